import { LRUCache } from 'lru-cache';

/** A token bucket's shape: `ratePerSecond` tokens flow in, at most `burst` are kept. */
export interface BucketLimit {
  ratePerSecond: number;
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole seconds until one token is available again (0 when allowed). */
  retryAfterSeconds: number;
}

/** Takes tokens from named buckets. Implementations never throw: a broken shared store falls back to local buckets. */
export interface RateLimiter {
  take(key: string, limit: BucketLimit): Promise<TakeResult>;
  /** Whether the bucket would admit one more token now, without taking it. */
  peek(key: string, limit: BucketLimit): Promise<TakeResult>;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets in this process's memory, the least recently used dropped past `maxBuckets`, so a
 * flood of distinct keys cannot grow it without bound (an idle bucket refills to full anyway).
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets: LRUCache<string, Bucket>;
  readonly #now: () => number;

  constructor(options: { now?: () => number; maxBuckets?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#buckets = new LRUCache({ max: options.maxBuckets ?? 100_000 });
  }

  take(key: string, limit: BucketLimit): Promise<TakeResult> {
    return Promise.resolve(this.takeSync(key, limit, 1));
  }

  peek(key: string, limit: BucketLimit): Promise<TakeResult> {
    return Promise.resolve(this.takeSync(key, limit, 0));
  }

  takeSync(key: string, limit: BucketLimit, cost: number): TakeResult {
    const now = this.#now();
    const bucket = this.#buckets.peek(key) ?? { tokens: limit.burst, updatedMs: now };
    const refilled = Math.min(
      limit.burst,
      bucket.tokens + (Math.max(0, now - bucket.updatedMs) / 1000) * limit.ratePerSecond,
    );
    if (cost === 0) {
      return refilled >= 1
        ? { allowed: true, retryAfterSeconds: 0 }
        : { allowed: false, retryAfterSeconds: retryAfter(refilled, limit) };
    }
    if (refilled < cost) {
      this.#buckets.set(key, { tokens: refilled, updatedMs: now });
      return { allowed: false, retryAfterSeconds: retryAfter(refilled, limit) };
    }
    this.#buckets.set(key, { tokens: refilled - cost, updatedMs: now });
    return { allowed: true, retryAfterSeconds: 0 };
  }
}

export function retryAfter(tokens: number, limit: BucketLimit): number {
  return Math.max(1, Math.ceil((1 - tokens) / limit.ratePerSecond));
}
