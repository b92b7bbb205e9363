import { describe, expect, it } from 'vitest';
import { OpossumBreaker } from '../../adapters/node/opossum-breaker.ts';
import { AttemptError } from '../attempt-error.ts';
import { Gateway } from '../gateway.ts';
import type { Policy, PolicyInput } from '../policy/schema.ts';
import type { PathTransport } from '../transport.ts';
import { policyFromObject } from '../../../test/support/policy.ts';

const policy = (edit: (p: PolicyInput) => void = () => {}): Policy => {
  const input: PolicyInput = {
    version: 1,
    paths: [
      { id: 'a', upstream: 'http://127.0.0.1:1' },
      { id: 'b', upstream: 'http://127.0.0.1:2' },
    ],
    probe: { intervalMs: 20, timeoutMs: 200 },
    breaker: { resetTimeoutMs: 60_000 },
    routes: [
      { id: 'payments', match: { method: 'POST', path: '/v1/payments' }, paths: ['a', 'b'] },
    ],
  };
  edit(input);
  return policyFromObject(input);
};

describe('probes across a policy apply', () => {
  it('hands running probes to the new gateway, whose failed probe opens the path', async () => {
    let aDown = false;
    const transportFactory = (path: { id: string }): PathTransport => ({
      send: async () => {
        if (path.id === 'a' && aDown)
          throw new AttemptError('connect_refused', 'not_sent', 'refused');
        return { status: 200, headers: new Headers(), body: null };
      },
      close: async () => {},
    });
    const breakerFactory = (config: Policy['breaker']) => new OpossumBreaker(config);
    const old = new Gateway({
      policy: policy(),
      policyHash: 'h1',
      transportFactory,
      breakerFactory,
    });
    old.startProbes();
    const next = new Gateway({
      policy: policy((p) => (p.routes[0]!.deadlineMs = 9_000)),
      policyHash: 'h2',
      transportFactory,
      breakerFactory,
      previous: old,
    });
    await old.retire(next);
    aDown = true;
    await expect
      .poll(() => next.status().paths.find((p) => p.id === 'a')?.state, {
        timeout: 5_000,
        interval: 20,
      })
      .toBe('open');
    expect(
      next
        .status()
        .paths.find((p) => p.id === 'a')
        ?.transitions.at(-1)?.reason,
    ).toBe('probe: connect_refused');
    expect(next.status().redundancy.level).toBe('N+0');
    await next.close();
  });
});
