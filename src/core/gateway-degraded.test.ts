import { describe, expect, it } from 'vitest';
import { OpossumBreaker } from '../adapters/node/opossum-breaker.ts';
import { AttemptError } from './attempt-error.ts';
import { Gateway } from './gateway.ts';
import type { PathTransport, UpstreamRequest, UpstreamResponse } from './transport.ts';
import { policyFromObject } from '../../test/support/policy.ts';

/**
 * A lossy carrier on path a: every other answer comes late, as after a TCP retransmission (the
 * injected clock moves on by 250 ms while it is on its way); path b answers at once.
 */
function setup(degradation: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  let clock = 1_700_000_000_000;
  let exchanges = 0;
  const sends: string[] = [];
  const answer = (): UpstreamResponse => ({
    status: 201,
    headers: new Headers(),
    body: new TextEncoder().encode('{}'),
  });
  const transportFactory = (path: { id: string }): PathTransport => ({
    send: (request, options) => {
      sends.push(path.id);
      if (path.id === 'a' && request.headers.get('idempotency-key')?.startsWith('waits')) {
        // Waiting for a retransmission that does not come: only giving up ends it.
        return new Promise((_resolve, reject) =>
          options.signal.addEventListener('abort', () =>
            reject(new AttemptError('response_timeout', 'sent', 'given up')),
          ),
        );
      }
      if (path.id === 'a' && ++exchanges % 2 === 0) clock += 250;
      else clock += 2;
      return Promise.resolve(answer());
    },
    close: async () => {},
  });
  const policy = policyFromObject({
    version: 1,
    paths: [
      { id: 'a', upstream: 'http://127.0.0.1:1' },
      { id: 'b', upstream: 'http://127.0.0.1:2' },
    ],
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        paths: ['a', 'b'],
        idempotency: { upstreamHonors: true },
      },
    ],
    probe: { enabled: false },
    degradation: { windowMs: 3_000, minSamples: 10, badPercent: 20, slowMs: 150, ...degradation },
    ...extra,
  });
  const gateway = new Gateway({
    policy,
    policyHash: 'test',
    transportFactory,
    breakerFactory: (config) => new OpossumBreaker(config),
    now: () => clock,
  });
  const route = policy.routes[0]!;
  const request = (): UpstreamRequest => ({
    method: 'POST',
    target: '/v1/payments',
    headers: new Headers(),
    body: new TextEncoder().encode('{}'),
  });
  let n = 0;
  const pay = (key = `key-${n++}`) => gateway.forward(route, request(), key);
  const pathStatus = (id: string) => gateway.status().paths.find((p) => p.id === id)!;
  return { gateway, pay, sends, pathStatus };
}

describe('a lossy path (answers, but many of them late)', () => {
  it('is marked degraded on /status and payments go to its healthy sibling first', async () => {
    const { gateway, pay, sends, pathStatus } = setup();
    try {
      for (let i = 0; i < 10; i++) expect((await pay()).pathId).toBe('a'); // every answer came: the breaker stays closed
      expect(gateway.path('a')!.breaker.state).toBe('closed');
      expect(pathStatus('a').degradedSince).not.toBeNull();
      expect(pathStatus('a').badPercent).toBe(50);
      expect(pathStatus('b').degradedSince).toBeNull();
      sends.length = 0;
      for (let i = 0; i < 5; i++) {
        const result = await pay();
        expect(result.pathId).toBe('b');
        expect(result.attempts.map((a) => a.pathId)).toEqual(['b']);
      }
      expect(sends).toEqual(['b', 'b', 'b', 'b', 'b']);
      // Still counted as healthy: it carries payments when the sibling cannot.
      expect(gateway.status().redundancy.healthy).toBe(2);
    } finally {
      await gateway.close();
    }
  });

  it('still carries payments while its sibling is open', async () => {
    const { gateway, pay, pathStatus } = setup();
    try {
      for (let i = 0; i < 10; i++) await pay();
      expect(pathStatus('a').degradedSince).not.toBeNull();
      gateway.path('b')!.breaker.trip('test: cut');
      const result = await pay();
      expect(result.pathId).toBe('a');
      expect(result.response.status).toBe(201);
    } finally {
      await gateway.close();
    }
  });

  it('gives up an attempt waiting on it when it is marked degraded, and sends it on under the same key', async () => {
    // Attempt timeouts of 10 minutes: only the degraded mark can end the wait in this test's time.
    const { gateway, pay } = setup(
      {},
      { adaptiveTimeout: { floorMs: 600_000, ceilingMs: 600_000 } },
    );
    try {
      const waiting = pay('waits-1');
      for (let i = 0; i < 10; i++) expect((await pay()).pathId).toBe('a');
      const result = await waiting;
      expect(result.pathId).toBe('b');
      expect(result.attempts.map((a) => [a.pathId, a.outcome])).toEqual([
        ['a', 'sent_no_answer'],
        ['b', 'answered'],
      ]);
      expect(result.idempotencyKey).toBe('waits-1');
    } finally {
      await gateway.close();
    }
  });

  it('keeps its place when degradation is disabled', async () => {
    const { gateway, pay, pathStatus } = setup({ enabled: false });
    try {
      for (let i = 0; i < 15; i++) expect((await pay()).pathId).toBe('a');
      expect(pathStatus('a').degradedSince).toBeNull();
    } finally {
      await gateway.close();
    }
  });
});
