import { describe, expect, it } from 'vitest';
import type { IBreaker } from '../breaker/breaker.ts';
import { AttemptError } from '../attempt-error.ts';
import { raceConnects } from './connect-hedge.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';

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
          if (behaviour === 'refuse')
            reject(new AttemptError('connect_refused', 'not_sent', 'refused'));
          else if (typeof behaviour === 'number') setTimeout(resolve, behaviour);
        }),
    },
  };
}

describe('raceConnects', () => {
  it('starts the next candidate after hedgeMs and sends on the first connected, without cutting the other short', async () => {
    const log: string[] = [];
    const result = await raceConnects(
      [fakePath('a', 'hang', log), fakePath('b', 1, log)],
      0,
      20,
      5_000,
    );
    expect(result.winner).toBe(1);
    expect(result.failures).toEqual([]);
    expect(log).toEqual(['start a', 'start b']);
  });

  it('reports a losing connect that fails after the race, so its path is charged for it', async () => {
    const log: string[] = [];
    const late: string[] = [];
    const slowFailure: PathRuntime = {
      ...fakePath('a', 'hang', log),
      transport: {
        send: () => Promise.reject(new Error('not used')),
        close: () => Promise.resolve(),
        connect: () =>
          new Promise<void>((_resolve, reject) =>
            setTimeout(
              () => reject(new AttemptError('connect_timeout', 'not_sent', 'timed out')),
              40,
            ),
          ),
      },
    };
    const result = await raceConnects(
      [slowFailure, fakePath('b', 1, log)],
      0,
      10,
      5_000,
      (index, error) => late.push(`${index}:${error.code}`),
    );
    expect(result.winner).toBe(1);
    expect(late).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(late).toEqual(['0:connect_timeout']);
  });

  it('moves on at once when a connect fails, and reports the failure', async () => {
    const log: string[] = [];
    const result = await raceConnects(
      [fakePath('a', 'refuse', log), fakePath('b', 1, log)],
      0,
      10_000,
      5_000,
    );
    expect(result.winner).toBe(1);
    expect(result.failures.map((f) => f.error.code)).toEqual(['connect_refused']);
  });

  it('gives up when no connection is up within the budget', async () => {
    const log: string[] = [];
    const result = await raceConnects(
      [fakePath('a', 'hang', log), fakePath('b', 'hang', log)],
      0,
      5,
      50,
    );
    expect(result.winner).toBeUndefined();
    expect(result.lastStarted).toBe(1);
    expect(log).toEqual(['start a', 'start b']);
  });
});
