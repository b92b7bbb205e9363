import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeCommand,
  parseReply,
  RespClient,
  RespError,
} from '../src/adapters/workers/resp-client.ts';
import { TestRedisServer } from './support/redis-server.ts';

let redis: TestRedisServer;
beforeAll(async () => {
  redis = await TestRedisServer.start();
});
afterAll(async () => redis?.stop());

async function client(timeoutMs = 250): Promise<RespClient> {
  const socket = connect({ host: '127.0.0.1', port: redis.port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const { readable, writable } = Duplex.toWeb(socket) as unknown as {
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  };
  return new RespClient({ readable, writable, close: () => void socket.destroy() }, { timeoutMs });
}

describe('RESP client (the Worker talks to Redis with it)', () => {
  it('encodes and parses what it needs, including partial replies', () => {
    expect(new TextDecoder().decode(encodeCommand(['SET', 'k', 'héllo']))).toBe(
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nhéllo\r\n',
    );
    const reply = new TextEncoder().encode('*3\r\n$1\r\na\r\n:5\r\n$-1\r\n');
    expect(parseReply(reply)).toEqual({ value: ['a', 5, null], next: reply.byteLength });
    expect(parseReply(reply.subarray(0, 9))).toBeUndefined();
  });

  it('runs commands against a real redis-server', async () => {
    const c = await client();
    try {
      expect(await c.command('HSET', 'h', 'a', '1', 'b', '2')).toBe(2);
      expect(await c.command('HGETALL', 'h')).toEqual(['a', '1', 'b', '2']);
      expect(
        await c.command('EVAL', "return redis.call('HGET', KEYS[1], ARGV[1])", 1, 'h', 'b'),
      ).toBe('2');
      await expect(c.command('NOSUCHCOMMAND')).rejects.toBeInstanceOf(RespError);
      expect(await c.command('PING')).toBe('PONG');
    } finally {
      await c.close();
    }
  });

  it('gives up after its timeout when Redis hangs, and stays failed', async () => {
    const c = await client(150);
    redis.pause();
    try {
      await expect(c.command('PING')).rejects.toThrow(/timed out/);
      await expect(c.command('PING')).rejects.toThrow(/timed out/);
    } finally {
      redis.resume();
      await c.close();
    }
  });
});
