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

/**
 * A Redis client for `url` with the fail-fast settings above. `redis://` and `rediss://` name one
 * server; `redis+sentinel://[:password@]host:port[,host:port…]/<master name>` names a
 * Sentinel-managed primary (the client follows failovers).
 */
export function createRedisClient(url: string, overrides: RedisOptions = {}): Redis {
  const sentinel = parseSentinelUrl(url);
  const client = sentinel
    ? new Redis({ ...FAIL_FAST_REDIS_OPTIONS, ...sentinel, ...overrides })
    : new Redis(url, { ...FAIL_FAST_REDIS_OPTIONS, ...overrides });
  // Connection errors are expected while Redis is down; they surface as failed commands.
  client.on('error', () => {});
  return client;
}

/** `redis+sentinel://[:password@]h1:p1,h2:p2/name` → ioredis Sentinel options, or undefined for other URLs. */
export function parseSentinelUrl(url: string): RedisOptions | undefined {
  const match = /^redis\+sentinel:\/\/(?:(?:[^:@/]*):([^@/]*)@)?([^/]+)\/([^/?#]+)\/?$/.exec(url);
  if (!url.startsWith('redis+sentinel://')) return undefined;
  if (!match) throw new Error('expected redis+sentinel://[:password@]host:port[,host:port...]/<master name>');
  const [, password, hosts, name] = match;
  const sentinels = hosts!.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    const host = at > 0 ? entry.slice(0, at) : entry;
    const port = at > 0 ? Number(entry.slice(at + 1)) : 26379;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad sentinel address "${entry}"`);
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
  return {
    sentinels,
    name: decodeURIComponent(name!),
    ...(password ? { password: decodeURIComponent(password) } : {}),
    // Sentinels are asked quickly too, so a dead sentinel never holds a command up.
    sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1_000),
  };
}
