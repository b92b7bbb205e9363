import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis settings that keep Redis off a payment's critical path (RUNTIME-NOTES.md, measured):
 * with ioredis defaults a command to a killed Redis takes ~73 s to fail and one to a hung Redis
 * never does. With these, a command fails within ~250 ms whatever Redis does, and callers fall
 * back to local state.
 */
export const FAIL_FAST_REDIS_OPTIONS: RedisOptions = {
  /** Commands issued while disconnected fail at once instead of queueing. */
  enableOfflineQueue: false,
  /** One reconnect-retry per command, then fail. */
  maxRetriesPerRequest: 1,
  /** The only guard against a hung (SIGSTOPped, overloaded) server, with socketTimeout. */
  commandTimeout: 250,
  connectTimeout: 500,
  socketTimeout: 1_000,
  /** Keep reconnecting forever, but never wait more than 1 s between tries. */
  retryStrategy: (times) => Math.min(100 * times, 1_000),
  lazyConnect: false,
};

/** A Redis client for `url` (redis:// or rediss://) with the fail-fast settings above. */
export function createRedisClient(url: string, overrides: RedisOptions = {}): Redis {
  const client = new Redis(url, { ...FAIL_FAST_REDIS_OPTIONS, ...overrides });
  // Connection errors are expected while Redis is down; they surface as failed commands.
  client.on('error', () => {});
  return client;
}
