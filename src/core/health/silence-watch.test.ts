import { describe, expect, it } from 'vitest';
import { SilenceWatch } from './silence-watch.ts';

const rule = { afterMs: 20, waiting: 2 };
const turn = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A watch over a path whose last answer the test sets. */
function watchedPath() {
  const path = { lastAnsweredAt: undefined as number | undefined };
  return { path, watch: new SilenceWatch(() => path.lastAnsweredAt) };
}

describe('SilenceWatch', () => {
  it('gives up an attempt once the path answered nothing for afterMs while later attempts wait', async () => {
    const { watch } = watchedPath();
    const givenUp: string[] = [];
    watch.watch(0, rule, (reason) => givenUp.push(`first: ${reason}`));
    watch.watch(5, rule, () => givenUp.push('second'));
    watch.watch(25, rule, () => givenUp.push('third')); // the first is 25 ms old, two later attempts wait
    await turn();
    expect(givenUp).toEqual([
      'first: the path answered nothing for 25 ms while 2 later attempts waited',
    ]);
  });

  it('waits for enough later attempts: one slow request on an otherwise idle path keeps its timeout', async () => {
    const { watch } = watchedPath();
    let givenUp = 0;
    watch.watch(0, rule, () => givenUp++);
    watch.watch(100, rule, () => givenUp++); // only one later attempt
    await turn();
    expect(givenUp).toBe(0);
  });

  it('keeps an attempt while other answers come over the path: one slow answer, not a silent path', async () => {
    const { path, watch } = watchedPath();
    let givenUp = 0;
    watch.watch(0, rule, () => givenUp++);
    const second = watch.watch(5, rule, () => givenUp++);
    path.lastAnsweredAt = 8;
    second();
    watch.watch(30, rule, () => givenUp++);
    watch.watch(40, rule, () => givenUp++);
    await turn();
    expect(givenUp).toBe(0);
  });

  it('does not give up when the answer arrives before the deferred verdict runs', async () => {
    const { path, watch } = watchedPath();
    let givenUp = 0;
    watch.watch(0, rule, () => givenUp++);
    watch.watch(5, rule, () => givenUp++);
    watch.watch(25, rule, () => givenUp++);
    path.lastAnsweredAt = 26; // read from the socket in the same turn
    await turn();
    expect(givenUp).toBe(0);
  });

  it('forgets settled attempts and never gives one up after it settled', async () => {
    const { watch } = watchedPath();
    let givenUp = 0;
    const first = watch.watch(0, rule, () => givenUp++);
    watch.watch(5, rule, () => {});
    watch.watch(25, rule, () => {});
    first();
    await turn();
    expect(givenUp).toBe(0);
    expect(watch.inFlight).toBe(2);
  });

  it('gives up, when the path is opened, every attempt it answered nothing since, whatever its age', async () => {
    const { path, watch } = watchedPath();
    const givenUp: string[] = [];
    watch.watch(0, rule, () => givenUp.push('before the last answer'));
    path.lastAnsweredAt = 3;
    watch.watch(4, rule, (reason) => givenUp.push(`after: ${reason}`));
    watch.watch(6, rule, () => givenUp.push('settled'))();
    watch.giveUpSilent('opened');
    await turn();
    expect(givenUp).toEqual(['after: opened']);
    expect(watch.inFlight).toBe(2); // given up is not settled: the attempt settles itself
  });
});
