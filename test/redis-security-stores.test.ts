import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient, type RedisClient } from '../src/adapters/node/redis/client.ts';
import { RedisNonceStore } from '../src/adapters/node/redis/nonce-store.ts';
import { RedisRateLimiter } from '../src/adapters/node/redis/rate-limiter.ts';
import type { Logger } from '../src/core/logger.ts';
import { TestRedisServer } from './support/redis-server.ts';

// Two store instances on one Redis stand for two gateway instances: a nonce or a token taken on
// one is gone on the other. When Redis dies, each falls back to local state at once.

let server: TestRedisServer;
const clients: RedisClient[] = [];
const logger: Logger = { info() {}, warn() {}, error() {} };

async function client(on: TestRedisServer = server): Promise<RedisClient> {
  const c = createRedisClient(on.url);
  clients.push(c);
  if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
  return c;
}

beforeAll(async () => {
  server = await TestRedisServer.start();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server.stop();
});

describe('Redis-backed security stores', () => {
  it('a nonce claimed on one instance is refused on another', async () => {
    const [a, b] = [
      new RedisNonceStore(await client(), logger),
      new RedisNonceStore(await client(), logger),
    ];
    expect(await a.claim('shop-1', 'nonce-aaaaaaaaaaaaaaaa', 60_000)).toBe(true);
    expect(await b.claim('shop-1', 'nonce-aaaaaaaaaaaaaaaa', 60_000)).toBe(false);
    expect(await b.claim('shop-2', 'nonce-aaaaaaaaaaaaaaaa', 60_000)).toBe(true);
  });

  it('a merchant bucket is shared: the burst is spent across instances, then 429 with a retry time', async () => {
    const [a, b] = [
      new RedisRateLimiter(await client(), logger),
      new RedisRateLimiter(await client(), logger),
    ];
    const limit = { ratePerSecond: 0.01, burst: 3 };
    const results = [
      await a.take('merchant:shop-1', limit),
      await b.take('merchant:shop-1', limit),
      await a.take('merchant:shop-1', limit),
      await b.take('merchant:shop-1', limit),
    ];
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((await a.peek('merchant:shop-1', limit)).allowed).toBe(false);
    expect((await a.peek('merchant:other', limit)).allowed).toBe(true);
  });

  it('with Redis dead, both stores answer from local state (no exception, replays still caught locally)', async () => {
    // A redis-server of its own to kill: the other tests' server stays up whatever this one does.
    const doomed = await TestRedisServer.start();
    const degraded: object[] = [];
    const own: Logger = { info() {}, warn: (fields) => degraded.push(fields), error() {} };
    try {
      const redis = await client(doomed);
      const nonces = new RedisNonceStore(redis, own);
      const limiter = new RedisRateLimiter(redis, own);
      await doomed.kill();
      expect(await nonces.claim('shop-1', 'nonce-bbbbbbbbbbbbbbbb', 60_000)).toBe(true);
      expect(await nonces.claim('shop-1', 'nonce-bbbbbbbbbbbbbbbb', 60_000)).toBe(false);
      const limit = { ratePerSecond: 0.01, burst: 1 };
      expect((await limiter.take('merchant:local', limit)).allowed).toBe(true);
      expect((await limiter.take('merchant:local', limit)).allowed).toBe(false);
      expect(degraded.some((w) => (w as { event?: string }).event === 'redis_degraded')).toBe(true);
    } finally {
      await doomed.stop();
    }
  });
});
