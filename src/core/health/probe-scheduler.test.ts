import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpossumBreaker } from '../../adapters/node/opossum-breaker.ts';
import { AttemptError } from '../attempt-error.ts';
import { Gateway } from '../gateway.ts';
import { PolicySchema } from '../policy/schema.ts';
import type { PathTransport } from '../transport.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('ProbeScheduler', () => {
  it('keeps one probe loop per path when its own probes keep changing the breaker', async () => {
    vi.useFakeTimers();
    const policy = PolicySchema.parse({
      version: 1,
      paths: [
        { id: 'a', upstream: 'http://127.0.0.1:1' },
        { id: 'b', upstream: 'http://127.0.0.1:2' },
      ],
      probe: { intervalMs: 25, timeoutMs: 10 },
      breaker: { resetTimeoutMs: 60_000 },
      routes: [{ id: 'r', match: { method: 'POST', path: '/' }, paths: ['a', 'b'] }],
    });
    let sentOnA = 0;
    const gateway = new Gateway({
      policy,
      policyHash: 'h',
      // a flaps with every probe, so every probe of a opens or closes it (a transition that re-plans its probe).
      transportFactory: (path): PathTransport => ({
        send: async () => {
          if (path.id === 'a' && ++sentOnA % 2 === 0)
            throw new AttemptError('connect_refused', 'not_sent', 'refused');
          return { status: 200, headers: new Headers(), body: null };
        },
        close: async () => {},
      }),
      breakerFactory: (config) => new OpossumBreaker(config),
    });
    gateway.startProbes();
    await vi.advanceTimersByTimeAsync(1_000);
    const transitions = gateway.status().paths.find((p) => p.id === 'a')!.transitions.length;
    await gateway.close();
    expect(transitions).toBeGreaterThan(10);
    // One loop at 25 ms makes about 40 probes in a second; a loop left behind by each transition would make far more.
    expect(sentOnA).toBeGreaterThanOrEqual(35);
    expect(sentOnA).toBeLessThanOrEqual(41);
  });
});
