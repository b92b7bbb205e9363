import { describe, expect, it } from 'vitest';
import { OpossumBreaker } from '../adapters/node/opossum-breaker.ts';
import { Gateway } from './gateway.ts';
import type { Policy, PolicyInput } from './policy/schema.ts';
import type { PathTransport } from './transport.ts';
import { policyFromObject } from '../../test/support/policy.ts';

const breakerFactory = (config: Policy['breaker']) => new OpossumBreaker(config);

const policy = (edit: (p: PolicyInput) => void = () => {}): Policy => {
  const input: PolicyInput = {
    version: 1,
    paths: [
      { id: 'a', upstream: 'http://127.0.0.1:1' },
      { id: 'b', upstream: 'http://127.0.0.1:2' },
      { id: 'c', upstream: 'http://127.0.0.1:3' },
    ],
    routes: [
      { id: 'payments', match: { method: 'POST', path: '/v1/payments' }, paths: ['a', 'b', 'c'] },
    ],
  };
  edit(input);
  return policyFromObject(input);
};

describe('gateway swap on policy apply', () => {
  it('keeps unchanged paths, and closes removed or changed ones only after requests on the old gateway finish', async () => {
    const closed: string[] = [];
    const transportFactory = (path: { id: string; upstream: string }): PathTransport => ({
      send: () => Promise.reject(new Error('not used')),
      close: async () => void closed.push(`${path.id}@${path.upstream}`),
    });
    const old = new Gateway({
      policy: policy(),
      policyHash: 'h1',
      transportFactory,
      breakerFactory,
    });
    const trip = old.path('a')!.breaker;
    trip.trip('test'); // an open breaker must survive the apply

    const leave = old.enter(); // a request in flight on the old gateway
    const next = new Gateway({
      policy: policy((p) => {
        p.paths = p.paths.filter((x) => x.id !== 'c');
        p.paths[1]!.upstream = 'http://127.0.0.1:22';
        p.routes[0]!.paths = ['a', 'b'];
      }),
      policyHash: 'h2',
      transportFactory,
      breakerFactory,
      previous: old,
    });
    expect(next.path('a')!.breaker).toBe(trip);
    expect(next.path('a')!.breaker.state).toBe('open');
    expect(old.sharesPath(next, 'a')).toBe(true);
    expect(old.sharesPath(next, 'b')).toBe(false);

    // Retiring runs on promises alone (no timers): by the next macrotask every step it could take
    // has run, as the same wait after the request leaves shows.
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    let retired = false;
    const retiring = old.retire(next).then(() => (retired = true));
    await settled();
    expect(retired).toBe(false);
    expect(closed).toEqual([]);

    leave();
    await settled();
    expect(retired).toBe(true);
    await retiring;
    expect(closed.sort()).toEqual(['b@http://127.0.0.1:2', 'c@http://127.0.0.1:3']);
    await next.close();
    expect(closed).toContain('a@http://127.0.0.1:1');
  });

  it('builds fresh breakers for every path when the breaker settings change', () => {
    const transportFactory = (): PathTransport => ({
      send: () => Promise.reject(new Error('not used')),
      close: async () => {},
    });
    const old = new Gateway({
      policy: policy(),
      policyHash: 'h1',
      transportFactory,
      breakerFactory,
    });
    const next = new Gateway({
      policy: policy((p) => (p.breaker = { resetTimeoutMs: 1_000 })),
      policyHash: 'h2',
      transportFactory,
      breakerFactory,
      previous: old,
    });
    expect(old.sharesPath(next, 'a')).toBe(false);
    void old.close();
    void next.close();
  });
});
