import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SilenceWatch } from './silence-watch.ts';

const rule = { afterMs: 20, waiting: 2 };
/** Runs the verdicts deferred by one event-loop turn (fake timers: every one that is pending). */
const turn = () => vi.runAllTimers();

/** A watch over a path whose last answer the test sets. */
function watchedPath() {
  const path = { lastAnsweredAt: undefined as number | undefined };
  return { path, watch: new SilenceWatch(() => path.lastAnsweredAt) };
}

describe('SilenceWatch', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('gives up an attempt once the path answered nothing for afterMs while later attempts wait', () => {
    const { watch } = watchedPath();
    const givenUp: string[] = [];
    watch.watch(0, rule, (reason) => givenUp.push(`first: ${reason}`));
    watch.watch(5, rule, () => givenUp.push('second'));
    watch.watch(25, rule, () => givenUp.push('third')); // the first is 25 ms old, two later attempts wait
    expect(givenUp).toEqual([]); // the verdict waits a turn, for answers already read
    turn();
    expect(givenUp).toEqual([
      'first: the path answered nothing for 25 ms while 2 later attempts waited',
    ]);
  });

  it('waits for enough later attempts: one slow request on an otherwise idle path keeps its timeout', () => {
    const { watch } = watchedPath();
    let givenUp = 0;
    watch.watch(0, rule, () => givenUp++);
    watch.watch(100, rule, () => givenUp++); // only one later attempt
    turn();
    expect(givenUp).toBe(0);
  });

  it('keeps an attempt while other answers come over the path: one slow answer, not a silent path', () => {
    const { path, watch } = watchedPath();
    let givenUp = 0;
    watch.watch(0, rule, () => givenUp++);
    const second = watch.watch(5, rule, () => givenUp++);
    path.lastAnsweredAt = 8;
    second();
    watch.watch(30, rule, () => givenUp++);
    watch.watch(40, rule, () => givenUp++);
    turn();
    expect(givenUp).toBe(0);
  });

  it('does not give up when the answer arrives before the deferred verdict runs', () => {
    const { path, watch } = watchedPath();
    let givenUp = 0;
    watch.watch(0, rule, () => givenUp++);
    watch.watch(5, rule, () => givenUp++);
    watch.watch(25, rule, () => givenUp++);
    path.lastAnsweredAt = 26; // read from the socket in the same turn
    turn();
    expect(givenUp).toBe(0);
  });

  it('forgets settled attempts and never gives one up after it settled', () => {
    const { watch } = watchedPath();
    let givenUp = 0;
    const first = watch.watch(0, rule, () => givenUp++);
    watch.watch(5, rule, () => {});
    watch.watch(25, rule, () => {});
    first();
    turn();
    expect(givenUp).toBe(0);
    expect(watch.inFlight).toBe(2);
  });

  it('gives up, when the path is opened, every attempt it answered nothing since, whatever its age', () => {
    const { path, watch } = watchedPath();
    const givenUp: string[] = [];
    watch.watch(0, rule, () => givenUp.push('before the last answer'));
    path.lastAnsweredAt = 3;
    watch.watch(4, rule, (reason) => givenUp.push(`after: ${reason}`));
    watch.watch(6, rule, () => givenUp.push('settled'))();
    watch.giveUpSilent('opened');
    turn();
    expect(givenUp).toEqual(['after: opened']);
    expect(watch.inFlight).toBe(2); // given up is not settled: the attempt settles itself
  });
});
