import { describe, expect, it } from 'vitest';
import { OpossumBreaker } from '../adapters/node/opossum-breaker.ts';
import { Gateway } from './gateway.ts';
import type { Policy } from './policy/schema.ts';
import type { PathTransport, UpstreamRequest } from './transport.ts';
import { policyFromObject } from '../../test/support/policy.ts';

const HOUR = 3_600_000;

describe('redundancy counts only paths proven within redundancy.provenWithinMs', () => {
  it('a spare that carried nothing for longer than allowed is no spare until a payment or a passing drill proves it', async () => {
    let now = Date.parse('2026-12-03T00:00:00Z');
    const transportFactory = (): PathTransport => ({
      send: () =>
        Promise.resolve({
          status: 201,
          headers: new Headers(),
          body: new TextEncoder().encode('{}'),
        }),
      close: async () => {},
    });
    const policy: Policy = policyFromObject({
      version: 1,
      paths: ['a', 'b', 'c'].map((id, i) => ({ id, upstream: `http://127.0.0.1:${i + 1}` })),
      routes: [
        { id: 'payments', match: { method: 'POST', path: '/v1/payments' }, paths: ['a', 'b', 'c'] },
      ],
      probe: { enabled: false },
    });
    expect(policy.redundancy.provenWithinMs).toBe(24 * HOUR);
    const gateway = new Gateway({
      policy,
      policyHash: 'test',
      transportFactory,
      breakerFactory: (config) => new OpossumBreaker(config),
      now: () => now,
    });
    const pay = () =>
      gateway.forward(
        policy.routes[0]!,
        {
          method: 'POST',
          target: '/v1/payments',
          headers: new Headers(),
          body: new TextEncoder().encode('{}'),
        } satisfies UpstreamRequest,
        `k-${now}`,
      );
    const path = (id: string) => gateway.status().paths.find((p) => p.id === id)!;
    try {
      // Newly known paths get the allowance before they count as unproven.
      expect(gateway.status().redundancy).toEqual({ healthy: 3, total: 3, level: 'N+2' });
      expect(path('b')).toMatchObject({ proven: true, provenAt: null, lastPassingDrillAt: null });

      now += 23 * HOUR;
      expect((await pay()).pathId).toBe('a');
      now += 2 * HOUR;
      // a answered an hour ago; b and c never carried anything in 25 h.
      expect(gateway.status().redundancy).toEqual({
        healthy: 3,
        total: 3,
        level: 'N+0',
        unproven: ['b', 'c'],
      });
      expect(path('a')).toMatchObject({
        proven: true,
        provenAt: new Date(now - 2 * HOUR).toISOString(),
      });
      expect(path('c')).toMatchObject({ proven: false, provenAt: null });

      // A drill isolating a and b passed while c carried its payments.
      gateway.recordDrillPassed(['c']);
      expect(gateway.status().redundancy).toEqual({
        healthy: 3,
        total: 3,
        level: 'N+1',
        unproven: ['b'],
      });
      expect(path('c')).toMatchObject({
        proven: true,
        lastPassingDrillAt: new Date(now).toISOString(),
        provenAt: new Date(now).toISOString(),
      });

      // Proofs survive a policy apply (the new gateway inherits them).
      const next = new Gateway({
        policy,
        policyHash: 'test-2',
        transportFactory,
        breakerFactory: (config) => new OpossumBreaker(config),
        previous: gateway,
      });
      try {
        expect(next.status().redundancy.unproven).toEqual(['b']);
      } finally {
        await next.close();
      }
    } finally {
      await gateway.close();
    }
  });
});
