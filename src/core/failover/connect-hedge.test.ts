import { describe, expect, it } from 'vitest';
import type { IBreaker } from '../breaker/breaker.ts';
import { AttemptError } from './attempt-error.ts';
import { raceConnects } from './connect-hedge.ts';
import type { PathRuntime } from './failover.ts';

type ConnectBehaviour = 'hang' | 'refuse' | number;

function fakePath(id: string, behaviour: ConnectBehaviour, log: string[]): PathRuntime {
  return {
    config: { id } as PathRuntime['config'],
    breaker: { isAvailable: true } as IBreaker,
    latency: undefined as never,
    recordAttempt: () => {},
    transport: {
      send: () => Promise.reject(new Error('not used')),
      close: () => Promise.resolve(),
      connect: (signal) =>
        new Promise<void>((resolve, reject) => {
          log.push(`start ${id}`);
          signal.addEventListener('abort', () => {
            log.push(`abort ${id}`);
            reject(new AttemptError('connect_timeout', 'not_sent', 'aborted'));
          });
          if (behaviour === 'refuse') reject(new AttemptError('connect_refused', 'not_sent', 'refused'));
          else if (typeof behaviour === 'number') setTimeout(resolve, behaviour);
        }),
    },
  };
}

describe('raceConnects', () => {
  it('starts the next candidate after hedgeMs and sends on the first connected, abandoning the other', async () => {
    const log: string[] = [];
    const result = await raceConnects([fakePath('a', 'hang', log), fakePath('b', 1, log)], 0, 20, 5_000);
    expect(result.winner).toBe(1);
    expect(result.failures).toEqual([]);
    expect(log).toEqual(['start a', 'start b', 'abort a']);
  });

  it('moves on at once when a connect fails, and reports the failure', async () => {
    const log: string[] = [];
    const result = await raceConnects([fakePath('a', 'refuse', log), fakePath('b', 1, log)], 0, 10_000, 5_000);
    expect(result.winner).toBe(1);
    expect(result.failures.map((f) => f.error.code)).toEqual(['connect_refused']);
  });

  it('gives up when no connection is up within the budget', async () => {
    const log: string[] = [];
    const result = await raceConnects([fakePath('a', 'hang', log), fakePath('b', 'hang', log)], 0, 5, 50);
    expect(result.winner).toBeUndefined();
    expect(result.lastStarted).toBe(1);
    expect(log.filter((l) => l.startsWith('abort'))).toHaveLength(2);
  });
});
