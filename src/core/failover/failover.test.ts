import { describe, expect, it, vi } from 'vitest';
import { RecordingBreaker } from '../../../test/support/recording-breaker.ts';
import { PaypathError } from '../errors.ts';
import { LatencyWindow } from '../health/latency-window.ts';
import { validatePolicyObject } from '../policy/parse.ts';
import type { RouteConfig } from '../policy/schema.ts';
import type { PathTransport, UpstreamRequest, UpstreamResponse } from '../transport.ts';
import { AttemptError } from '../attempt-error.ts';
import { forwardWithFailover } from './failover.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';
import type { AttemptRecord } from './types.ts';

type Script = (request: UpstreamRequest, signal: AbortSignal) => Promise<UpstreamResponse>;

const answer = (status: number, body = '{}'): UpstreamResponse => ({
  status,
  headers: new Headers({ 'content-type': 'application/json' }),
  body: new Response(body).body,
});
const notSent = (): Promise<UpstreamResponse> =>
  Promise.reject(new AttemptError('connect_refused', 'not_sent', 'refused'));
const sentLost = (): Promise<UpstreamResponse> =>
  Promise.reject(new AttemptError('connection_lost', 'sent', 'reset after write'));
const hang: Script = (_req, signal) =>
  new Promise((_resolve, reject) =>
    signal.addEventListener('abort', () =>
      reject(new AttemptError('response_timeout', 'sent', 'timeout')),
    ),
  );

function setup(scripts: Record<string, Script>, route: Record<string, unknown> = {}) {
  const ids = Object.keys(scripts);
  const parsed = validatePolicyObject({
    version: 1,
    paths: ids.map((id) => ({ id, upstream: 'http://processor.test' })),
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        paths: ids,
        attemptTimeoutMs: 50,
        ...route,
      },
    ],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const sent: { path: string; key: string | null }[] = [];
  const records: AttemptRecord[] = [];
  const paths = new Map<string, PathRuntime & { breaker: RecordingBreaker }>();
  for (const id of ids) {
    const transport: PathTransport = {
      send: (request, options) => {
        sent.push({ path: id, key: request.headers.get('idempotency-key') });
        return scripts[id]!(request, options.signal);
      },
      close: async () => {},
    };
    paths.set(id, {
      config: parsed.policy.paths.find((p) => p.id === id)!,
      breaker: new RecordingBreaker(),
      transport,
      latency: new LatencyWindow(),
      recordAttempt: (r) => records.push(r),
      attemptTimeoutMs: () => 20, // what an adaptive timeout would say for a path that usually answers in a few ms
    });
  }
  const route0 = parsed.policy.routes[0] as RouteConfig;
  const forward = () =>
    forwardWithFailover(
      route0,
      {
        method: 'POST',
        target: '/v1/payments',
        headers: new Headers(),
        body: new TextEncoder().encode('{}'),
      },
      paths,
      {
        idempotencyKey: 'key-1',
      },
    );
  return { forward, sent, records, paths };
}

async function rejection(promise: Promise<unknown>): Promise<PaypathError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof PaypathError))
    throw new Error(`expected a PaypathError, got ${String(error)}`);
  return error;
}

describe('forwardWithFailover', () => {
  it('fails over at once when nothing was sent, even without key support', async () => {
    const { forward, sent } = setup({ a: notSent, b: async () => answer(201) });
    const result = await forward();
    expect(result.pathId).toBe('b');
    expect(result.attempts.map((a) => a.outcome)).toEqual(['not_sent', 'answered']);
    expect(sent.map((s) => s.path)).toEqual(['a', 'b']);
  });

  it('never re-sends a lost request when the processor does not honour keys', async () => {
    const { forward, sent } = setup({ a: sentLost, b: async () => answer(201) });
    const error = await rejection(forward());
    expect(error.code).toBe('outcome_unknown');
    expect(error.status).toBe(502);
    expect(error.details.idempotencyKey).toBe('key-1');
    expect(sent.map((s) => s.path)).toEqual(['a']);
  });

  it('re-sends a lost request on the next path under the same key when the processor honours keys', async () => {
    const { forward, sent } = setup(
      { a: hang, b: async () => answer(201) },
      { idempotency: { upstreamHonors: true } },
    );
    const result = await forward();
    expect(result.pathId).toBe('b');
    expect(sent).toEqual([
      { path: 'a', key: 'key-1' },
      { path: 'b', key: 'key-1' },
    ]);
  });

  it('answers outcome_unknown when every retry-safe attempt was lost', async () => {
    const { forward } = setup(
      { a: sentLost, b: sentLost },
      { idempotency: { upstreamHonors: true } },
    );
    expect((await rejection(forward())).code).toBe('outcome_unknown');
  });

  it('returns 4xx as is and counts it as a success for the breaker', async () => {
    const { forward, sent, paths } = setup({
      a: async () => answer(402, '{"declined":true}'),
      b: async () => answer(201),
    });
    const result = await forward();
    expect(result.response.status).toBe(402);
    expect(await new Response(result.response.body).text()).toBe('{"declined":true}');
    expect(sent.length).toBe(1);
    expect(paths.get('a')!.breaker.counted).toBe(0);
  });

  it('counts 5xx and 429 against the path and fails over only when retry-safe', async () => {
    const unsafe = setup({ a: async () => answer(503), b: async () => answer(201) });
    const kept = await unsafe.forward();
    expect(kept.response.status).toBe(503);
    expect(unsafe.paths.get('a')!.breaker.counted).toBe(1);

    const safe = setup(
      { a: async () => answer(429), b: async () => answer(201) },
      { idempotency: { upstreamHonors: true } },
    );
    const moved = await safe.forward();
    expect(moved.pathId).toBe('b');
    expect(moved.attempts.map((a) => a.code)).toEqual(['http_429', 'http_201']);
  });

  it('returns the last 5xx when no path is left to try', async () => {
    const { forward } = setup(
      { a: async () => answer(500), b: async () => answer(502) },
      { idempotency: { upstreamHonors: true } },
    );
    const result = await forward();
    expect(result.response.status).toBe(502);
    expect(result.pathId).toBe('b');
  });

  it('keeps a 5xx answer when the paths after it could not send: the processor answered, something was sent', async () => {
    const { forward } = setup(
      { a: async () => answer(503, '{"busy":true}'), b: notSent },
      { idempotency: { upstreamHonors: true } },
    );
    const result = await forward();
    expect(result.response.status).toBe(503);
    expect(result.pathId).toBe('a');
    expect(await new Response(result.response.body).text()).toBe('{"busy":true}');
  });

  it('does not let a later 5xx settle an earlier lost send', async () => {
    const { forward } = setup(
      { a: sentLost, b: async () => answer(500) },
      { idempotency: { upstreamHonors: true } },
    );
    expect((await rejection(forward())).code).toBe('outcome_unknown');
  });

  it('gives up on a slow path after its adaptive timeout only when another path can take over', async () => {
    const slow: Script = (_req, signal) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(answer(201)), 80);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new AttemptError('response_timeout', 'sent', 'timeout'));
        });
      });
    // Fake timers: the 20 ms adaptive timeout and the 80 ms answer race on a clock the test moves
    // (on a real one, a loop stalled past 80 ms would find the answer before the timeout's abort).
    vi.useFakeTimers();
    try {
      const two = setup(
        { a: slow, b: async () => answer(201) },
        { attemptTimeoutMs: undefined, idempotency: { upstreamHonors: true } },
      );
      const failedOver = two.forward();
      await vi.advanceTimersByTimeAsync(80);
      expect((await failedOver).pathId).toBe('b');
      // Alone, the same slow answer is waited for (up to the deadline) instead of becoming outcome_unknown.
      const one = setup(
        { a: slow },
        { attemptTimeoutMs: undefined, idempotency: { upstreamHonors: true } },
      );
      const waited = one.forward();
      await vi.advanceTimersByTimeAsync(80);
      const result = await waited;
      expect(result.response.status).toBe(201);
      expect(result.attempts.map((a) => a.outcome)).toEqual(['answered']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('skips open breakers and answers no_path_available with Retry-After when none is usable', async () => {
    const { forward, paths, sent } = setup({
      a: async () => answer(201),
      b: async () => answer(201),
    });
    paths.get('a')!.breaker.trip();
    expect((await forward()).pathId).toBe('b');
    paths.get('b')!.breaker.trip();
    const error = await rejection(forward());
    expect(error.code).toBe('no_path_available');
    expect(error.status).toBe(503);
    expect(error.headers['retry-after']).toBe('1');
    expect(sent.map((s) => s.path)).toEqual(['b']);
  });

  it('answers no_path_available when every attempt failed before sending', async () => {
    const { forward, records } = setup({ a: notSent, b: notSent });
    expect((await rejection(forward())).code).toBe('no_path_available');
    expect(records.map((r) => r.code)).toEqual(['connect_refused', 'connect_refused']);
  });

  it('stops at the deadline: a lost send inside it is outcome_unknown', async () => {
    // Fake timers: on a real clock, a stall past the deadline before the first timeout fired
    // would leave no time for the second path.
    vi.useFakeTimers();
    try {
      const { forward, sent } = setup(
        { a: hang, b: hang, c: hang },
        { attemptTimeoutMs: 40, deadlineMs: 60, idempotency: { upstreamHonors: true } },
      );
      let settled = false;
      const stopped = rejection(forward()).finally(() => (settled = true));
      await vi.advanceTimersByTimeAsync(41); // a's timeout, and the turn its abort waits (1 ms)
      expect(sent.map((s) => s.path)).toEqual(['a', 'b']); // b gets the 19 ms left
      await vi.advanceTimersByTimeAsync(20);
      expect(settled).toBe(true);
      const error = await stopped;
      expect(error.code).toBe('outcome_unknown');
      expect(sent.map((s) => s.path)).toEqual(['a', 'b']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('treats an unexpected transport error as possibly sent', async () => {
    const { forward } = setup({
      a: () => Promise.reject(new Error('boom')),
      b: async () => answer(201),
    });
    expect((await rejection(forward())).code).toBe('outcome_unknown');
  });
});
