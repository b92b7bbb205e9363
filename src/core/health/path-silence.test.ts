import { describe, expect, it } from 'vitest';
import { everyPathSilentSince, PathSilence, silentFor } from './path-silence.ts';

const WINDOW_MS = 3_000;

describe('PathSilence', () => {
  it('is silent from the first question after its last answer, and not at all once it answers', () => {
    const path = new PathSilence();
    expect(path.silentSince).toBeUndefined(); // never asked: no evidence
    path.asked(1_000);
    path.asked(1_500); // a later question does not move the start of the silence
    expect(path.silentSince).toBe(1_000);
    path.answered(2_000);
    expect(path.silentSince).toBeUndefined();
    expect(path.lastAnsweredAt).toBe(2_000);
    path.answered(1_800); // a late record of an older answer does not move the last answer back
    expect(path.lastAnsweredAt).toBe(2_000);
  });

  it('counts as silent only once the window has passed', () => {
    expect(silentFor(undefined, 10_000, WINDOW_MS)).toBe(false);
    expect(silentFor(1_000, 1_000 + WINDOW_MS - 1, WINDOW_MS)).toBe(false);
    expect(silentFor(1_000, 1_000 + WINDOW_MS, WINDOW_MS)).toBe(true);
  });
});

describe('everyPathSilentSince', () => {
  const paths = (...silentSince: (number | undefined)[]) =>
    silentSince.map((at) => ({ silentSince: at }));

  it('is the latest start of silence once every path has been silent for the window', () => {
    expect(everyPathSilentSince(paths(1_000, 1_200, 1_500), 1_500 + WINDOW_MS, WINDOW_MS)).toBe(
      1_500,
    );
  });

  it('waits for the last path to fall silent to have been silent for the whole window', () => {
    expect(
      everyPathSilentSince(paths(1_000, 1_200, 1_500), 1_500 + WINDOW_MS - 1, WINDOW_MS),
    ).toBeUndefined();
  });

  it('is undefined while any path answers or was not asked since it last answered', () => {
    expect(
      everyPathSilentSince(paths(1_000, undefined, 1_000), 100_000, WINDOW_MS),
    ).toBeUndefined();
  });

  it('a path that answers a 5xx answered: a processor failing everywhere is reachable, not down', () => {
    const a = new PathSilence();
    const b = new PathSilence();
    let now = 0;
    for (; now < 10_000; now += 500) {
      for (const path of [a, b]) {
        path.asked(now);
        path.answered(now + 20); // a 503, but an answer
      }
    }
    expect(everyPathSilentSince([a, b], now, WINDOW_MS)).toBeUndefined();
  });

  it('is undefined for no paths', () => {
    expect(everyPathSilentSince([], 100_000, WINDOW_MS)).toBeUndefined();
  });
});
