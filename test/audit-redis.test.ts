import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlAuditLog } from '../src/adapters/node/audit-file.ts';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import { AUDIT_STREAM_KEY, RedisStreamAuditLog } from '../src/adapters/node/redis/audit-stream.ts';
import { silentLogger } from '../src/core/logger.ts';
import { TestRedisServer } from './support/redis-server.ts';

describe('audit log in a Redis stream', () => {
  let server: TestRedisServer | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('appends to the stream, and to the fallback file while Redis is down', async () => {
    server = await TestRedisServer.start();
    dir = await mkdtemp(join(tmpdir(), 'paypath-audit-'));
    const client = createRedisClient(server.url);
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      const fallback = new JsonlAuditLog(join(dir, 'audit.jsonl'), silentLogger);
      const audit = new RedisStreamAuditLog(client, fallback, silentLogger);
      await audit.append({ time: '2026-01-01T00:00:00.000Z', actor: 'alice', action: 'policy.apply', outcome: 'ok', revision: 2 });
      await audit.append({ time: '2026-01-01T00:00:01.000Z', actor: 'anonymous', action: 'auth.failed', outcome: 'denied' });
      expect(await client.xlen(AUDIT_STREAM_KEY)).toBe(2);
      expect((await audit.recent(10)).map((r) => r.action)).toEqual(['auth.failed', 'policy.apply']);

      await server.kill();
      await audit.append({ time: '2026-01-01T00:00:02.000Z', actor: 'bob', action: 'drill.start', outcome: 'ok' });
      const file = await readFile(join(dir, 'audit.jsonl'), 'utf8');
      expect(file.trim().split('\n').map((l) => JSON.parse(l).action)).toEqual(['drill.start']);
    } finally {
      client.disconnect();
    }
  });
});
