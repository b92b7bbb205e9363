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
 * Token buckets in this process's memory. Idle buckets that have refilled completely carry no
 * information and are swept, so a flood of distinct keys cannot grow the map without bound.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  readonly #maxBuckets: number;

  constructor(options: { now?: () => number; maxBuckets?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxBuckets = options.maxBuckets ?? 100_000;
  }

  take(key: string, limit: BucketLimit): Promise<TakeResult> {
    return Promise.resolve(this.takeSync(key, limit, 1));
  }

  peek(key: string, limit: BucketLimit): Promise<TakeResult> {
    return Promise.resolve(this.takeSync(key, limit, 0));
  }

  takeSync(key: string, limit: BucketLimit, cost: number): TakeResult {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: limit.burst, updatedMs: now };
    const refilled = Math.min(limit.burst, bucket.tokens + (Math.max(0, now - bucket.updatedMs) / 1000) * limit.ratePerSecond);
    if (cost === 0) {
      return refilled >= 1 ? { allowed: true, retryAfterSeconds: 0 } : { allowed: false, retryAfterSeconds: retryAfter(refilled, limit) };
    }
    if (refilled < cost) {
      this.#store(key, { tokens: refilled, updatedMs: now });
      return { allowed: false, retryAfterSeconds: retryAfter(refilled, limit) };
    }
    this.#store(key, { tokens: refilled - cost, updatedMs: now });
    return { allowed: true, retryAfterSeconds: 0 };
  }

  #store(key: string, bucket: Bucket): void {
    this.#buckets.delete(key); // re-insert: Map order becomes least recently used first
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxBuckets) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
  }
}

export function retryAfter(tokens: number, limit: BucketLimit): number {
  return Math.max(1, Math.ceil((1 - tokens) / limit.ratePerSecond));
}
