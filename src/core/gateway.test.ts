import { describe, expect, it } from 'vitest';
import { OpossumBreaker } from '../adapters/node/opossum-breaker.ts';
import { AttemptError } from './attempt-error.ts';
import { Gateway } from './gateway.ts';
import type { Policy } from './policy/schema.ts';
import type { PathTransport, UpstreamRequest, UpstreamResponse } from './transport.ts';
import { policyFromObject } from '../../test/support/policy.ts';
import { within } from '../../test/support/poll.ts';

const ATTEMPT_TIMEOUT_FLOOR_MS = 5_000;

describe('a path opened as failing', () => {
  it('gives up the attempts still waiting on it and sends them on at once, not after their timeout', async () => {
    let aAnswers = true;
    let clock = 1_000_000;
    const sends = { a: 0, b: 0 };
    const givenUp: string[] = []; // why each attempt waiting on the cut path was aborted
    let cutWaiting = 0;
    let threeWaiting!: () => void;
    const threeCutWaiting = new Promise<void>((resolve) => (threeWaiting = resolve));
    const answer = (): UpstreamResponse => ({
      status: 201,
      headers: new Headers(),
      body: new TextEncoder().encode('{}'),
    });
    const transportFactory = (path: { id: string }): PathTransport => ({
      send: (_request, options) => {
        sends[path.id as 'a' | 'b']++;
        if (path.id === 'b' || aAnswers) return Promise.resolve(answer());
        // A cut carrier: nothing comes back until the attempt is given up.
        if (++cutWaiting === 3) threeWaiting();
        return new Promise((_resolve, reject) =>
          options.signal.addEventListener('abort', () => {
            givenUp.push((options.signal.reason as Error).message);
            reject(new AttemptError('response_timeout', 'sent', 'given up'));
          }),
        );
      },
      close: async () => {},
    });
    const policy: Policy = policyFromObject({
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
      // The timeout adapts after 5 samples, and is then at least 5 s: only the open can end the wait early.
      adaptiveTimeout: {
        minSamples: 5,
        floorMs: ATTEMPT_TIMEOUT_FLOOR_MS,
        ceilingMs: 2 * ATTEMPT_TIMEOUT_FLOOR_MS,
      },
      probe: { enabled: false },
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
    try {
      for (let i = 0; i < 5; i++)
        expect((await gateway.forward(route, request(), `warm-${i}`)).pathId).toBe('a');
      aAnswers = false;
      clock += 1; // answers are kept to the millisecond: the cut attempts start after the last one
      const waiting = [0, 1, 2].map((i) => gateway.forward(route, request(), `cut-${i}`));
      await within('three attempts waiting on the cut path', threeCutWaiting, 5_000);
      gateway.path('a')!.breaker.trip('probe: connect_timeout');
      const results = await Promise.all(waiting);
      for (const result of results) {
        expect(result.pathId).toBe('b');
        expect(result.response.status).toBe(201);
        expect(result.attempts[0]!.pathId).toBe('a');
      }
      // Given up because the path was opened, not by their timeout ("no answer within …").
      expect(givenUp).toEqual(
        Array(3).fill(
          'the path was opened (probe: connect_timeout) with nothing answered since this attempt was sent',
        ),
      );
      expect(sends).toEqual({ a: 8, b: 3 });
    } finally {
      await gateway.close();
    }
  });
});

describe('status', () => {
  it("lists each route with the paths it may use now, and the policy's version and hash", async () => {
    const policy: Policy = policyFromObject({
      version: 1,
      paths: [
        { id: 'a', upstream: 'http://127.0.0.1:1' },
        { id: 'b', upstream: 'http://127.0.0.1:2' },
      ],
      routes: [
        { id: 'orders', match: { method: 'GET', pathPrefix: '/v1/orders/' }, paths: ['a', 'b'] },
      ],
      probe: { enabled: false },
    });
    const gateway = new Gateway({
      policy,
      policyHash: 'h1',
      transportFactory: () => ({
        send: () => Promise.reject(new Error('unused')),
        close: async () => {},
      }),
      breakerFactory: (config) => new OpossumBreaker(config),
    });
    try {
      gateway.path('a')!.breaker.trip('probe: connect_timeout');
      const status = gateway.status();
      expect(status.routes).toEqual([{ id: 'orders', class: 'other', usablePaths: ['b'] }]);
      expect(status.paths.map((p) => [p.id, p.state])).toEqual([
        ['a', 'open'],
        ['b', 'closed'],
      ]);
      expect(status.policy).toEqual({ version: 1, hash: 'h1' });
    } finally {
      await gateway.close();
    }
  });
});
