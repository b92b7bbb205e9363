import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisClient, parseSentinelUrl } from '../src/adapters/node/redis/client.ts';
import { answersAs, freePort, TestRedisServer } from './support/redis-server.ts';
import { until } from './support/poll.ts';

describe('Sentinel URLs', () => {
  it('parses hosts, master name and password, and rejects a malformed URL', () => {
    expect(parseSentinelUrl('redis://127.0.0.1:6380')).toBeUndefined();
    expect(
      parseSentinelUrl('redis+sentinel://:s3cret@127.0.0.1:26380,127.0.0.2/primary'),
    ).toMatchObject({
      sentinels: [
        { host: '127.0.0.1', port: 26380 },
        { host: '127.0.0.2', port: 26379 },
      ],
      name: 'primary',
      password: 's3cret',
    });
    expect(() => parseSentinelUrl('redis+sentinel://127.0.0.1:26380')).toThrow(/master name/);
  });

  let primary: TestRedisServer | undefined;
  let sentinel: ChildProcess | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    if (sentinel && sentinel.exitCode === null) {
      const exited = new Promise((r) => sentinel!.once('exit', r));
      sentinel.kill('SIGKILL');
      await exited;
    }
    await primary?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the primary a sentinel names', async () => {
    primary = await TestRedisServer.start();
    dir = mkdtempSync(join(tmpdir(), 'paypath-sentinel-'));
    const config = join(dir, 'sentinel.conf');
    // A sentinel cannot listen on port 0: pick a free port, and pick again if it was taken meanwhile.
    const port = await until(
      'a sentinel to start on a free port',
      async () => {
        const candidate = await freePort();
        writeFileSync(
          config,
          `port ${candidate}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor paymaster 127.0.0.1 ${primary!.port} 1\n`,
        );
        const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
        sentinel = child;
        const exited = () => child.exitCode !== null || child.signalCode !== null;
        await until(
          'the sentinel to answer or exit',
          async () => exited() || (await answersAs(candidate, child.pid!)),
          { timeoutMs: 10_000 },
        );
        return !exited() && candidate;
      },
      { timeoutMs: 20_000 },
    );
    const client = createRedisClient(`redis+sentinel://127.0.0.1:${port}/paymaster`);
    try {
      await expect
        .poll(() => client.ping().catch(() => 'down'), { timeout: 10_000, interval: 100 })
        .toBe('PONG');
      await client.set('via-sentinel', 'yes');
      const direct = createRedisClient(primary.url);
      await new Promise((r) => direct.once('ready', r));
      expect(await direct.get('via-sentinel')).toBe('yes');
      direct.disconnect();
    } finally {
      client.disconnect();
    }
  });
});
