import { describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from './rate-limiter.ts';

const ONE_A_MINUTE = { ratePerSecond: 1 / 60, burst: 1 };

describe('MemoryRateLimiter', () => {
  it('keeps at most maxBuckets, forgetting the least recently used first', async () => {
    const limiter = new MemoryRateLimiter({ now: () => 0, maxBuckets: 2 });
    for (const key of ['a', 'b'])
      expect((await limiter.take(key, ONE_A_MINUTE)).allowed).toBe(true);
    expect((await limiter.take('a', ONE_A_MINUTE)).allowed).toBe(false); // 'a' is now the most recent
    expect((await limiter.take('c', ONE_A_MINUTE)).allowed).toBe(true); // pushes out 'b'
    expect((await limiter.peek('a', ONE_A_MINUTE)).allowed).toBe(false); // still drained: kept
    expect((await limiter.take('b', ONE_A_MINUTE)).allowed).toBe(true); // forgotten, so full again
  });
});
