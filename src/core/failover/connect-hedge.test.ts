import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

/** Tracks whether a race has finished, so a test can show it has not yet. */
function watched<T>(promise: Promise<T>) {
  const state = { settled: false, promise };
  void promise.then(() => (state.settled = true));
  return state;
}

// Fake timers: the hedge, the budget and the fake connects run on a clock the test moves.
describe('raceConnects', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('starts the next candidate after hedgeMs and sends on the first connected, without cutting the other short', async () => {
    const log: string[] = [];
    const race = watched(
      raceConnects([fakePath('a', 'hang', log), fakePath('b', 1, log)], 0, 20, 5_000),
    );
    await vi.advanceTimersByTimeAsync(19);
    expect(log).toEqual(['start a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['start a', 'start b']);
    expect(race.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1); // b's connect is up
    const result = await race.promise;
    expect(result.winner).toBe(1);
    expect(result.failures).toEqual([]);
    expect(log).toEqual(['start a', 'start b']); // a was not aborted
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
    const race = raceConnects([slowFailure, fakePath('b', 1, log)], 0, 10, 5_000, (index, error) =>
      late.push(`${index}:${error.code}`),
    );
    await vi.advanceTimersByTimeAsync(11); // the hedge after 10 ms, and b's connect 1 ms later
    const result = await race;
    expect(result.winner).toBe(1);
    await vi.advanceTimersByTimeAsync(28);
    expect(late).toEqual([]);
    await vi.advanceTimersByTimeAsync(1); // a's connect fails 40 ms after it started
    expect(late).toEqual(['0:connect_timeout']);
  });

  it('moves on at once when a connect fails, and reports the failure', async () => {
    const log: string[] = [];
    const race = raceConnects(
      [fakePath('a', 'refuse', log), fakePath('b', 1, log)],
      0,
      10_000,
      5_000,
    );
    await vi.advanceTimersByTimeAsync(0); // no time passes: the refusal alone starts b
    expect(log).toEqual(['start a', 'start b']);
    await vi.advanceTimersByTimeAsync(1);
    const result = await race;
    expect(result.winner).toBe(1);
    expect(result.failures.map((f) => f.error.code)).toEqual(['connect_refused']);
  });

  it('gives up when no connection is up within the budget', async () => {
    const log: string[] = [];
    const race = watched(
      raceConnects([fakePath('a', 'hang', log), fakePath('b', 'hang', log)], 0, 5, 50),
    );
    await vi.advanceTimersByTimeAsync(49);
    expect(race.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(race.settled).toBe(true);
    const result = await race.promise;
    expect(result.winner).toBeUndefined();
    expect(result.lastStarted).toBe(1);
    expect(log).toEqual(['start a', 'start b']);
  });
});
