import { afterAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import { TestRedisServer } from './support/redis-server.ts';

describe('test redis-server and the fail-fast client', () => {
  let server: TestRedisServer | undefined;
  afterAll(async () => server?.stop());

  it('fails a command fast while Redis is killed or paused, and works again after restart', async () => {
    server = await TestRedisServer.start();
    const client = createRedisClient(server.url);
    try {
      // No offline queue: commands sent before the connection is ready fail at once, by design.
      await new Promise((resolve) => client.once('ready', resolve));
      expect(await client.set('k', 'v')).toBe('OK');

      server.pause();
      const paused = await client.get('k').then(
        () => 'answered',
        (e: Error) => e.message,
      );
      expect(paused).toMatch(/timed out/i);
      server.resume();

      await server.kill();
      const killed = await client.get('k').then(
        () => 'answered',
        (e: Error) => e.message,
      );
      expect(killed).not.toBe('answered');

      await server.restart();
      await expect
        .poll(() => client.ping().catch(() => 'down'), { timeout: 5_000, interval: 100 })
        .toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});
