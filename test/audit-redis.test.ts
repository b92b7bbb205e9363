import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonlAuditLog } from '../src/adapters/node/audit-file.ts';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import { AUDIT_STREAM_KEY, RedisStreamAuditLog } from '../src/adapters/node/redis/audit-stream.ts';
import { MemoryAuditLog, type AuditRecord } from '../src/core/admin/audit.ts';
import { silentLogger } from '../src/core/logger.ts';
import { TestRedisServer } from './support/redis-server.ts';

describe('audit log in a Redis stream', () => {
  // Each test has its own redis-server (one kills it, one fills it): none starts from what another left.
  const servers: TestRedisServer[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const redisServer = async (options?: Parameters<typeof TestRedisServer.start>[0]) => {
    const server = await TestRedisServer.start(options);
    servers.push(server);
    return server;
  };
  /** A redis-server with 8 MiB of memory that refuses writes when full. */
  const smallRedisServer = () =>
    redisServer({
      extraArgs: ['--maxmemory', String(8 * 1024 * 1024), '--maxmemory-policy', 'noeviction'],
    });

  it('appends to the stream, and to the fallback file while Redis is down', async () => {
    const server = await redisServer();
    const dir = await mkdtemp(join(tmpdir(), 'paypath-audit-'));
    dirs.push(dir);
    const client = createRedisClient(server.url);
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      const fallback = new JsonlAuditLog(join(dir, 'audit.jsonl'), silentLogger);
      const audit = new RedisStreamAuditLog(client, fallback, silentLogger);
      await audit.append({
        time: '2026-01-01T00:00:00.000Z',
        actor: 'alice',
        action: 'policy.apply',
        outcome: 'ok',
        revision: 2,
      });
      await audit.append({
        time: '2026-01-01T00:00:01.000Z',
        actor: 'anonymous',
        action: 'auth.failed',
        outcome: 'denied',
      });
      expect(await client.xlen(AUDIT_STREAM_KEY)).toBe(2);
      expect((await audit.recent(10)).map((r) => r.action)).toEqual([
        'auth.failed',
        'policy.apply',
      ]);

      await server.kill();
      await audit.append({
        time: '2026-01-01T00:00:02.000Z',
        actor: 'bob',
        action: 'drill.start',
        outcome: 'ok',
      });
      const file = await readFile(join(dir, 'audit.jsonl'), 'utf8');
      expect(
        file
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).action),
      ).toEqual(['drill.start']);
    } finally {
      client.disconnect();
    }
  });

  const record = (i: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({
    time: new Date(i).toISOString(),
    actor: 'alice',
    action: 'policy.apply',
    outcome: 'ok',
    revision: i,
    ...extra,
  });

  it('keeps the newest maxEntries records, and a record over maxRecordBytes whole in the file with a stub in the stream', async () => {
    const small = await smallRedisServer();
    const client = new Redis(small.url); // ioredis's own timeouts: a slow reply must not become a fallback write here
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      const fallback = new MemoryAuditLog();
      const audit = new RedisStreamAuditLog(client, fallback, silentLogger, {
        key: 'trim-test',
        maxEntries: 10,
        maxRecordBytes: 2_000,
      });
      for (let i = 1; i <= 30; i++) await audit.append(record(i));
      expect(await client.xlen('trim-test')).toBe(10);
      expect((await audit.recent(100)).map((r) => r.revision)).toEqual([
        30, 29, 28, 27, 26, 25, 24, 23, 22, 21,
      ]);
      expect(fallback.records).toEqual([]);

      const large = record(31, {
        diff: { changes: [{ field: 'paths', op: 'changed', to: 'x'.repeat(5_000) }] },
      });
      await audit.append(large);
      expect(fallback.records).toEqual([large]);
      expect((await audit.recent(1))[0]).toEqual({
        ...record(31),
        details: { truncated: true, bytes: JSON.stringify(large).length, whole: 'audit file' },
      });
    } finally {
      client.disconnect();
    }
  });

  it('writes to the file instead while Redis is above 80 % of its maxmemory, leaving the rest to the queue', async () => {
    const small = await smallRedisServer();
    // ioredis's own timeouts rather than the fail-fast 250 ms: this test is about memory, and a
    // loaded machine must not turn a slow reply into a fallback write.
    const client = new Redis(small.url);
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      const memory = async () => {
        const info = await client.info('memory');
        return {
          used: Number(/^used_memory:(\d+)/m.exec(info)![1]),
          max: Number(/^maxmemory:(\d+)/m.exec(info)![1]),
        };
      };
      const fallback = new MemoryAuditLog();
      const audit = new RedisStreamAuditLog(client, fallback, silentLogger, {
        key: 'memory-test',
        memoryCheckMs: 0,
      });
      await audit.append(record(1));
      expect(await client.xlen('memory-test')).toBe(1);

      // Filled in small pieces: a command's own arguments count against maxmemory too.
      const { max } = await memory();
      for (let i = 0; i < 200 && (await memory()).used < max * 0.85; i++)
        await client.set(`filler:${i}`, 'x'.repeat(64 * 1024));
      expect((await memory()).used / max).toBeGreaterThan(0.8);
      await audit.append(record(2));
      expect(await client.xlen('memory-test')).toBe(1);
      expect(fallback.records.map((r) => r.revision)).toEqual([2]);
      // The room left is the queue's: a write of its kind still succeeds.
      expect(await client.xadd('{paypath-queue}:stream', '*', 'id', 'q-1')).toMatch(/^\d+-\d+$/);

      await client.del(...(await client.keys('filler:*')));
      await audit.append(record(3));
      expect(await client.xlen('memory-test')).toBe(2);
    } finally {
      client.disconnect();
    }
  });
});
