import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import { RedisForwardQueue } from '../src/adapters/node/redis/forward-queue.ts';
import type { RedisClient } from '../src/adapters/node/redis/client.ts';
import { encodeBase64 } from '../src/core/base64.ts';
import type { QueuedRequest } from '../src/core/queue/forward-queue.ts';
import { QueueCipher } from '../src/core/queue/queue-cipher.ts';
import { exposesCardNumber } from './support/card-data.ts';
import { ExactlyOnceBench } from './support/exactly-once-bench.ts';
import { until } from './support/poll.ts';
import { TestRedisServer } from './support/redis-server.ts';

const PAN = '4111111111111111';
const MERCHANT_CREDENTIAL = 'sk_live_merchant_credential_0123456789';
const body = (reference: string) =>
  JSON.stringify({ amount: 1999, reference, card: { number: PAN, cvc: '737', exp: '12/30' } });

/** Every key in the test's own Redis with its whole value, whatever its type. */
async function dump(client: RedisClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await client.type(key);
      const value =
        type === 'string'
          ? await client.get(key)
          : type === 'stream'
            ? await client.xrange(key, '-', '+')
            : type === 'hash'
              ? await client.hgetall(key)
              : type === 'list'
                ? await client.lrange(key, 0, -1)
                : type === 'set'
                  ? await client.smembers(key)
                  : type === 'zset'
                    ? await client.zrange(key, '0', '-1', 'WITHSCORES')
                    : `(type ${type})`;
      out.set(key, JSON.stringify(value));
    }
  } while (cursor !== '0');
  return out;
}

/** What must never be readable in Redis: the card number, its security code, the merchant's credential, the body as sent. */
function sensitiveIn(values: Map<string, string>, references: string[]): string[] {
  const found: string[] = [];
  for (const [key, value] of values) {
    if (exposesCardNumber(value, PAN)) found.push(`card number in ${key}`);
    if (
      value.includes(MERCHANT_CREDENTIAL) ||
      value.includes(encodeBase64(new TextEncoder().encode(MERCHANT_CREDENTIAL)).slice(0, 20))
    )
      found.push(`credential in ${key}`);
    // As a JSON field or header name (quoted, maybe escaped): the bare letters turn up in the
    // sealed item's base64 now and then (about one run in fifty), which base64 quotes never do.
    if (/\\*"(cvc|authorization)\\*"/i.test(value))
      found.push(`cvc or authorization in ${key}: ${value.slice(0, 200)}`);
    for (const reference of references) {
      if (value.includes(encodeBase64(new TextEncoder().encode(body(reference))).slice(0, 24)))
        found.push(`body (base64) in ${key}`);
    }
  }
  return found;
}

const payments = [
  {
    id: 'payments',
    match: { method: 'POST', path: '/v1/payments' },
    class: 'payment',
    paths: ['p0', 'p1', 'p2'],
    attemptTimeoutMs: 2_000,
    idempotency: { upstreamHonors: true },
    whenAllDown: 'queue',
  },
];
const queueSettings = {
  queue: { retryIntervalMs: 100, payments: { floorLimit: 5_000, merchantExposureCap: 50_000 } },
};

async function pay(url: string, reference: string) {
  const response = await fetch(`${url}/v1/payments`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': `key-${reference}`,
      'x-merchant-id': 'shop-a',
      authorization: `Bearer ${MERCHANT_CREDENTIAL}`,
    },
    body: body(reference),
  });
  return {
    status: response.status,
    json: (await response.json()) as { id?: string; error?: { code: string } },
  };
}

describe('a payment queued in Redis while every carrier is down', () => {
  let bench: ExactlyOnceBench;
  let redis: TestRedisServer;
  let client: RedisClient;
  beforeAll(async () => {
    bench = await ExactlyOnceBench.start();
    redis = await TestRedisServer.start();
    client = createRedisClient(redis.url);
    await new Promise((resolve) => client.once('ready', resolve));
  });
  afterAll(async () => {
    client?.disconnect();
    await bench?.stop();
    await redis?.stop();
  });

  it('is kept only encrypted while it waits, and once forwarded and answered only its outcome is kept', async () => {
    await client.flushall();
    await bench.setAll('refuse');
    const running = await bench.startInProcess(
      bench.writePolicy(payments, queueSettings),
      redis.url,
    );
    try {
      const queued = await pay(running.url, 'rest-1');
      expect(queued.status).toBe(202);
      const id = queued.json.id!;

      const waiting = await dump(client);
      expect(sensitiveIn(waiting, ['rest-1'])).toEqual([]);
      const itemKey = [...waiting.keys()].find((key) => key.endsWith(`item:${id}`))!;
      expect(itemKey).toBeDefined();
      const item = JSON.parse(JSON.parse(waiting.get(itemKey)!) as string) as {
        request: Record<string, unknown>;
      };
      expect(item.request.sealed).toMatchObject({ alg: 'A256GCM' });
      expect(item.request).not.toHaveProperty('headers');
      expect(item.request).not.toHaveProperty('bodyBase64');
      expect(item.request).not.toHaveProperty('target');
      const status = (await (await fetch(`${running.url}/status`)).json()) as {
        queue: Record<string, unknown>;
      };
      expect(status.queue).toMatchObject({
        kind: 'redis',
        depth: 1,
        encrypted: true,
        keyId: expect.stringMatching(/^[0-9a-f]{16}$/),
      });

      await bench.carriers[0]!.setMode({ mode: 'up' });
      const view = await until(
        'the queued payment to be forwarded',
        async () => {
          const v = (await (await fetch(`${running.url}/v1/queue/${id}`)).json()) as {
            state: string;
            outcome?: { status: number; body: string };
          };
          return v.state === 'forwarded' ? v : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      // The processor got the body as the merchant sent it (opened from the sealed form).
      expect(view.outcome?.status).toBe(201);
      expect(bench.processor.charges.filter((c) => c.reference === 'rest-1')).toHaveLength(1);

      const after = await dump(client);
      const kept = JSON.parse(JSON.parse(after.get(itemKey)!) as string) as Record<string, unknown>;
      expect(Object.keys(kept)).toEqual(['view']);
      expect(kept.view).toMatchObject({ id, state: 'forwarded', outcome: { status: 201 } });
      expect(sensitiveIn(after, ['rest-1'])).toEqual([]);
      for (const value of after.values()) expect(value).not.toContain('sealed');
    } finally {
      await running.close();
    }
  });

  it('is refused (503 queue_key_missing) when no queue key is configured, and nothing of it is kept', async () => {
    await client.flushall();
    await bench.setAll('refuse');
    const running = await bench.startInProcess(
      bench.writePolicy(payments, queueSettings),
      redis.url,
      { queueKeys: [] },
    );
    try {
      const refused = await pay(running.url, 'rest-2');
      expect(refused.status).toBe(503);
      expect(refused.json.error?.code).toBe('queue_key_missing');
      const values = await dump(client);
      expect([...values.keys()].filter((key) => key.includes('item:'))).toEqual([]);
      expect(sensitiveIn(values, ['rest-2'])).toEqual([]);
    } finally {
      await running.close();
    }
  });

  it('written in clear by an earlier version, is still forwarded, then only its outcome is kept', async () => {
    await client.flushall();
    const legacy: QueuedRequest = {
      id: 'q_legacy',
      routeId: 'payments',
      method: 'POST',
      target: '/v1/payments',
      headers: [['authorization', `Bearer ${MERCHANT_CREDENTIAL}`]],
      bodyBase64: encodeBase64(new TextEncoder().encode(body('legacy'))),
      idempotencyKey: 'key-legacy',
      enqueuedAt: Date.now(),
    };
    // The earlier layout: the request as sent beside its view, and a stream entry naming it.
    const view = {
      id: legacy.id,
      routeId: legacy.routeId,
      state: 'queued',
      idempotencyKey: legacy.idempotencyKey,
      enqueuedAt: legacy.enqueuedAt,
      attempts: 0,
    };
    await client.set(
      'paypath:{paypath-queue}:item:q_legacy',
      JSON.stringify({ request: legacy, view }),
    );
    await client.xadd('paypath:{paypath-queue}:stream', '*', 'id', legacy.id);
    const queue = new RedisForwardQueue(client, {
      cipher: await QueueCipher.create([new Uint8Array(32).fill(13)]),
    });
    expect(await queue.head()).toEqual(legacy);
    await queue.complete(legacy, { status: 201, headers: [], bodyBase64: '' }, 60_000);
    const after = await dump(client);
    expect(
      JSON.parse(JSON.parse(after.get('paypath:{paypath-queue}:item:q_legacy')!) as string),
    ).toEqual({ view: expect.objectContaining({ state: 'forwarded' }) });
    expect(sensitiveIn(after, ['legacy'])).toEqual([]);
  });

  it('after a key rotation, is still read with the previous key listed; without it, is never sent; altered, is refused', async () => {
    await client.flushall();
    const oldKey = new Uint8Array(32).fill(11);
    const newKey = new Uint8Array(32).fill(12);
    const request = (id: string): QueuedRequest => ({
      id,
      routeId: 'payments',
      method: 'POST',
      target: '/v1/payments',
      headers: [['authorization', `Bearer ${MERCHANT_CREDENTIAL}`]],
      bodyBase64: encodeBase64(new TextEncoder().encode(body(id))),
      idempotencyKey: `key-${id}`,
      enqueuedAt: Date.now(),
    });
    const original = request('q_old');
    const before = new RedisForwardQueue(client, { cipher: await QueueCipher.create([oldKey]) });
    expect(await before.enqueue(original, { maxDepth: 10 })).toEqual({ ok: true });

    const lacking = await new RedisForwardQueue(client, {
      cipher: await QueueCipher.create([newKey]),
    }).head();
    expect(lacking).toMatchObject({
      id: 'q_old',
      unreadable: 'key_unknown',
      headers: [],
      bodyBase64: null,
    });
    const rotated = await new RedisForwardQueue(client, {
      cipher: await QueueCipher.create([newKey, oldKey]),
    }).head();
    expect(rotated).toEqual(original);

    // Altered in Redis: the payload no longer authenticates.
    const itemKey = (await client.keys('*item:q_old'))[0]!;
    const stored = JSON.parse((await client.get(itemKey))!) as {
      request: { sealed: { data: string } };
    };
    stored.request.sealed.data = stored.request.sealed.data.startsWith('A')
      ? `B${stored.request.sealed.data.slice(1)}`
      : `A${stored.request.sealed.data.slice(1)}`;
    await client.set(itemKey, JSON.stringify(stored));
    expect(await before.head()).toMatchObject({ id: 'q_old', unreadable: 'corrupt' });
  });
});
