import type { RedisClient } from './client.ts';
import type { Logger } from '../../../core/logger.ts';
import {
  MemoryRateLimiter,
  retryAfter,
  type BucketLimit,
  type RateLimiter,
  type TakeResult,
} from '../../../core/rate-limit/rate-limiter.ts';
import { DegradedWindow } from './degraded-window.ts';

/**
 * One token bucket per key in a Redis hash, refilled and taken atomically by a script on Redis's
 * own clock (instances' clocks may differ). Cost 0 peeks without taking.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local data = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(data[1]) or burst
local updated = tonumber(data[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) / 1000 * rate)
local allowed = 0
if cost == 0 then
  if tokens >= 1 then allowed = 1 end
  return {allowed, tostring(tokens)}
end
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
`;

/**
 * Token buckets shared by every instance through Redis. When Redis fails, this instance's local
 * buckets take over (each instance then allows the full rate on its own); a payment is never
 * blocked or slowed beyond one command timeout per second by Redis trouble.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisClient;
  readonly #local = new MemoryRateLimiter();
  readonly #window: DegradedWindow;
  readonly #prefix: string;

  constructor(redis: RedisClient, logger: Logger, prefix = 'paypath:bucket:') {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#window = new DegradedWindow('rate limiter', logger);
  }

  take(key: string, limit: BucketLimit): Promise<TakeResult> {
    return this.#run(key, limit, 1);
  }

  peek(key: string, limit: BucketLimit): Promise<TakeResult> {
    return this.#run(key, limit, 0);
  }

  async #run(key: string, limit: BucketLimit, cost: number): Promise<TakeResult> {
    if (this.#window.skipping) return this.#local.takeSync(key, limit, cost);
    try {
      const [allowed, tokens] = (await this.#redis.eval(
        TAKE_SCRIPT,
        1,
        `${this.#prefix}${key}`,
        limit.ratePerSecond,
        limit.burst,
        cost,
      )) as [number, string];
      this.#window.succeeded();
      return allowed === 1
        ? { allowed: true, retryAfterSeconds: 0 }
        : { allowed: false, retryAfterSeconds: retryAfter(Number(tokens), limit) };
    } catch (error) {
      this.#window.failed(error);
      return this.#local.takeSync(key, limit, cost);
    }
  }
}
