import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BreakerOpenError, type IBreaker } from '../../core/breaker/breaker.ts';
import { PaypathError } from '../../core/errors.ts';
import { AttemptError } from '../../core/attempt-error.ts';
import { Gateway } from '../../core/gateway.ts';
import { parsePolicy } from '../../core/policy/parse.ts';
import type { PathTransport } from '../../core/transport.ts';
import { classify } from './undici-dispatch.ts';

// Property-based fuzzing of the failure classifier and of the engine's decisions built on it.

const TLS_CODES = [
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
];
const KNOWN_CODES = [
  ...TLS_CODES,
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
];

const errorArb = fc.record({
  code: fc.oneof(
    fc.constantFrom(...KNOWN_CODES),
    fc.string({ maxLength: 30 }),
    fc.constant(undefined),
  ),
  message: fc.string({ maxLength: 80 }),
  name: fc.string({ maxLength: 20 }),
});

function makeError(spec: { code: string | undefined; message: string; name: string }): Error {
  const error = new Error(spec.message);
  error.name = spec.name;
  if (spec.code !== undefined) (error as { code?: string }).code = spec.code;
  return error;
}

describe('failure classifier fuzzing', () => {
  it('maps any error to an AttemptError whose wire state is exactly what reached the wire', () => {
    fc.assert(
      fc.property(errorArb, fc.boolean(), (spec, sent) => {
        const result = classify(makeError(spec), sent);
        expect(result).toBeInstanceOf(AttemptError);
        expect(result.wire).toBe(sent ? 'sent' : 'not_sent');
        if (!sent && spec.code !== undefined && TLS_CODES.includes(spec.code))
          expect(result.code).toBe('tls_failed');
        // After the first byte: a timeout waiting for the answer, or a connection lost under it.
        const answerTimeout =
          spec.code === 'UND_ERR_HEADERS_TIMEOUT' || spec.code === 'UND_ERR_BODY_TIMEOUT';
        if (sent) expect(result.code).toBe(answerTimeout ? 'response_timeout' : 'connection_lost');
      }),
      { numRuns: 5_000 },
    );
  });

  it('names every certificate and protocol failure before the first byte tls_failed (not sent)', () => {
    for (const code of TLS_CODES) {
      const result = classify(makeError({ code, message: 'handshake', name: 'Error' }), false);
      expect([result.code, result.wire]).toEqual(['tls_failed', 'not_sent']);
    }
  });
});

type Outcome =
  | { kind: 'answer'; status: number }
  | { kind: 'not_sent' }
  | { kind: 'sent' }
  | { kind: 'breaker_open' };

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  fc.record({
    kind: fc.constant('answer' as const),
    status: fc.constantFrom(200, 201, 400, 402, 404, 409, 422, 429, 500, 502, 503),
  }),
  fc.constant({ kind: 'not_sent' as const }),
  fc.constant({ kind: 'sent' as const }),
  fc.constant({ kind: 'breaker_open' as const }),
);

/** A breaker fixed open or closed, so every case starts from a known state without timers. */
function fixedBreaker(open: boolean): IBreaker {
  return {
    state: open ? 'open' : 'closed',
    isAvailable: !open,
    execute: (fn) => (open ? Promise.reject(new BreakerOpenError('open')) : fn()),
    recordSuccess() {},
    recordFailure() {},
    isolate: () => ({ dispose() {} }),
    trip() {},
    reset() {},
    onStateChange: () => ({ dispose() {} }),
    dispose() {},
  };
}

describe('engine decisions fuzzing', () => {
  it('never re-sends after an ambiguous send unless the processor honours keys, and answers cleanly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(outcomeArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (outcomes, upstreamHonors) => {
          const ids = outcomes.map((_, i) => `p${i}`);
          const parsed = parsePolicy(
            JSON.stringify({
              version: 1,
              paths: ids.map((id) => ({ id, upstream: 'http://127.0.0.1:9' })),
              routes: [
                {
                  id: 'payments',
                  match: { method: 'POST', path: '/v1/payments' },
                  paths: ids,
                  idempotency: { upstreamHonors },
                },
              ],
            }),
          );
          if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
          const calls: string[] = [];
          const gateway = new Gateway({
            policy: parsed.policy,
            policyHash: 'fuzz',
            breakerFactory: (_config, path) =>
              fixedBreaker(outcomes[ids.indexOf(path.id)]!.kind === 'breaker_open'),
            transportFactory: (path) => {
              const outcome = outcomes[ids.indexOf(path.id)]!;
              const transport: PathTransport = {
                send: async () => {
                  calls.push(path.id);
                  if (outcome.kind === 'not_sent')
                    throw new AttemptError('connect_refused', 'not_sent', 'refused');
                  if (outcome.kind !== 'answer')
                    throw new AttemptError('connection_lost', 'sent', 'lost');
                  return { status: outcome.status, headers: new Headers(), body: null };
                },
                close: async () => {},
              };
              return transport;
            },
          });
          const route = parsed.policy.routes[0]!;
          const request = {
            method: 'POST',
            target: '/v1/payments',
            headers: new Headers(),
            body: new Uint8Array([1]),
          };
          let status: number;
          const kinds = () => calls.map((id) => outcomes[ids.indexOf(id)]!.kind);
          try {
            const result = await gateway.forward(route, request, 'key-1');
            status = result.response.status;
            // The answer is the processor's latest: from the last path that answered.
            expect(result.pathId).toBe(
              calls.filter((id) => outcomes[ids.indexOf(id)]!.kind === 'answer').at(-1),
            );
            expect(outcomes[ids.indexOf(result.pathId)]).toEqual({ kind: 'answer', status });
            // A 5xx does not settle a lost send: with one, the outcome is unknown, not the 5xx.
            if (status >= 500) expect(kinds()).not.toContain('sent');
          } catch (error) {
            expect(error).toBeInstanceOf(PaypathError);
            const e = error as PaypathError;
            expect(['outcome_unknown', 'no_path_available', 'deadline_exceeded']).toContain(e.code);
            status = e.status;
            expect(status).toBe(
              { outcome_unknown: 502, no_path_available: 503, deadline_exceeded: 504 }[
                e.code as string
              ],
            );
            // A lost send is always outcome_unknown, never "nothing was sent"; without one, a
            // processor's answer is never dropped for a paypath error.
            if (kinds().includes('sent')) expect(e.code).toBe('outcome_unknown');
            else expect(kinds()).not.toContain('answer');
            if (e.code === 'outcome_unknown') expect(kinds()).toContain('sent');
          }
          // Each path at most once, in order.
          expect(new Set(calls).size).toBe(calls.length);
          expect(calls).toEqual(ids.filter((id) => calls.includes(id)));
          if (!upstreamHonors) {
            // After a request reached the wire (sent, or any answer), nothing goes to another path.
            const firstWire = calls.findIndex(
              (id) => outcomes[ids.indexOf(id)]!.kind !== 'not_sent',
            );
            if (firstWire >= 0) expect(calls.length).toBe(firstWire + 1);
          }
          // A 2xx or 4xx answer (not 429) ends the request at once.
          const firstFinal = calls.findIndex((id) => {
            const o = outcomes[ids.indexOf(id)]!;
            return 'status' in o && o.status < 500 && o.status !== 429;
          });
          if (firstFinal >= 0) expect(calls.length).toBe(firstFinal + 1);
          await gateway.close();
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
