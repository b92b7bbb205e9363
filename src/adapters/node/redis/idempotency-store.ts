import type { RedisClient } from './client.ts';
import type {
  ClaimResult,
  IdempotencyStore,
  StoredAnswer,
} from '../../../core/idempotency/store.ts';

type RedisRecord = { s: 'i'; fp: string; t: string } | { s: 'c'; fp: string; a: StoredAnswer };

/** Replaces our in-flight claim with the final answer, only while the claim is still ours. */
const COMPLETE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local r = cjson.decode(v)
if r.s ~= 'i' or r.t ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** Compare-and-delete: removes the claim only when it is still ours (an expired claim may belong to another request now). */
const RELEASE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local r = cjson.decode(v)
if r.s ~= 'i' or r.t ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

/**
 * Idempotency records in Redis, shared by every instance. One string per key, hash-tagged
 * (`paypath:idem:{KEY}`) so a cluster keeps each record on one slot. A claim is one atomic
 * `SET NX PX GET`: it either creates the in-flight record with our token and fingerprint, or
 * returns the record already there. Completing and releasing are Lua scripts that first check
 * the owner token. Commands fail fast (see createRedisClient) and throw; FallbackIdempotencyStore
 * then keeps the claim in this instance's memory.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly kind = 'redis' as const;
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, options: { prefix?: string } = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'paypath:idem:';
  }

  redisKey(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  async claim(key: string, fingerprint: string, claimTtlMs: number): Promise<ClaimResult> {
    const token = crypto.randomUUID();
    const record: RedisRecord = { s: 'i', fp: fingerprint, t: token };
    const previous = (await this.#redis.call(
      'SET',
      this.redisKey(key),
      JSON.stringify(record),
      'PX',
      String(claimTtlMs),
      'NX',
      'GET',
    )) as string | null;
    if (previous === null) return { kind: 'claimed', token };
    const existing = JSON.parse(previous) as RedisRecord;
    // ioredis re-sends a command once after a reconnect; if the first SET landed but its reply was
    // lost, the second finds our own claim: it is still ours, not another request's.
    if (existing.s === 'i' && existing.t === token) return { kind: 'claimed', token };
    if (existing.fp !== fingerprint) return { kind: 'mismatch', fingerprint: existing.fp };
    return existing.s === 'c' ? { kind: 'completed', answer: existing.a } : { kind: 'in_flight' };
  }

  async complete(
    key: string,
    token: string,
    answer: StoredAnswer,
    ttlMs: number,
  ): Promise<boolean> {
    const previous = await this.#redis.get(this.redisKey(key));
    const fingerprint = previous ? (JSON.parse(previous) as RedisRecord).fp : '';
    const record: RedisRecord = { s: 'c', fp: fingerprint, a: answer };
    const done = await this.#redis.eval(
      COMPLETE_SCRIPT,
      1,
      this.redisKey(key),
      token,
      JSON.stringify(record),
      String(ttlMs),
    );
    return done === 1;
  }

  async release(key: string, token: string): Promise<boolean> {
    return (await this.#redis.eval(RELEASE_SCRIPT, 1, this.redisKey(key), token)) === 1;
  }
}
