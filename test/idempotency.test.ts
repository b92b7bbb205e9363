import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import { RedisIdempotencyStore } from '../src/adapters/node/redis/idempotency-store.ts';
import { legacyRequestFingerprint } from '../src/core/idempotency/fingerprint.ts';
import type { RunningGateway } from '../src/adapters/node/server.ts';
import { ExactlyOnceBench, expectGatewayReplay } from './support/exactly-once-bench.ts';
import { until } from './support/poll.ts';
import { TestRedisServer } from './support/redis-server.ts';

const payments = (extra: Record<string, unknown> = {}) => [
  {
    id: 'payments',
    match: { method: 'POST', path: '/v1/payments' },
    class: 'payment',
    paths: ['p0', 'p1', 'p2'],
    attemptTimeoutMs: 3_000,
    deadlineMs: 6_000,
    idempotency: { upstreamHonors: true },
    ...extra,
  },
];

/** Captures of a charge, one route for every `/v1/payments/<charge>/capture`. */
const captures = {
  id: 'captures',
  match: { method: 'POST', pathPrefix: '/v1/payments/' },
  class: 'payment',
  paths: ['p0'],
  idempotency: { upstreamHonors: true },
};

async function pay(url: string, key: string | undefined, body: Record<string, unknown>) {
  const response = await fetch(`${url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe('idempotency over real sockets', () => {
  // A fresh processor, carriers and (for the tests that use one) redis-server per test: tests here
  // flush and kill Redis and change how the processor answers, so none may inherit another's.
  let bench: ExactlyOnceBench;
  let redis: TestRedisServer | undefined;

  beforeEach(async () => {
    bench = await ExactlyOnceBench.start({ serviceTimeMs: 150 });
  });
  afterEach(async () => {
    await bench.stop();
    await redis?.stop();
    redis = undefined;
  });

  /** A redis-server of this test's own, stopped after it. */
  async function startRedis(): Promise<TestRedisServer> {
    redis = await TestRedisServer.start();
    return redis;
  }

  for (const storeKind of ['memory', 'redis'] as const) {
    it(`50 concurrent requests with one key make exactly one charge (${storeKind} store)`, async () => {
      const gateway: RunningGateway = await bench.startInProcess(
        bench.writePolicy(payments()),
        storeKind === 'redis' ? (await startRedis()).url : undefined,
      );
      try {
        const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
          idempotency: { store: string };
        };
        expect(status.idempotency.store).toBe(storeKind);
        const reference = `ref-50-${storeKind}`;
        const key = `key-50-${storeKind}`;
        const answers = await Promise.all(
          Array.from({ length: 50 }, () => pay(gateway.url, key, { amount: 500, reference })),
        );
        expect(bench.processor.chargesFor(reference)).toBe(1);
        const succeeded = answers.filter((a) => a.status === 201);
        const inUse = answers.filter((a) => a.status === 409);
        expect(succeeded.length + inUse.length).toBe(50);
        expect(succeeded.length).toBeGreaterThanOrEqual(1);
        expect(new Set(succeeded.map((a) => a.text)).size).toBe(1);
        for (const a of inUse) expect(JSON.parse(a.text).error.code).toBe('idempotency_key_in_use');
        // Once completed, a retry is a byte-for-byte replay from the gateway's record: the processor sees nothing.
        const seen = bench.processor.requests.get('/v1/payments');
        const replay = await pay(gateway.url, key, { reference, amount: 500 });
        expect(replay.status).toBe(201);
        expect(replay.text).toBe(succeeded[0]!.text);
        expectGatewayReplay(replay.headers);
        expect(bench.processor.requests.get('/v1/payments')).toBe(seen);
        expect(bench.processor.chargesFor(reference)).toBe(1);
      } finally {
        await gateway.close();
      }
    });
  }

  it("a key used for one capture is refused (422) for another charge's capture or another query; the processor sees only the first", async () => {
    const gateway = await bench.startInProcess(bench.writePolicy([...payments(), captures]));
    try {
      const capture = (target: string) =>
        fetch(`${gateway.url}${target}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'key-capture' },
          body: '{"amount":500}',
        });
      const first = await capture('/v1/payments/ch_A/capture');
      expect(first.status).toBe(201);
      for (const target of [
        '/v1/payments/ch_B/capture',
        '/v1/payments/ch_A/capture?amount_to_capture=1',
      ]) {
        const other = await capture(target);
        expect(other.status).toBe(422);
        expect(other.headers.get('idempotent-replayed')).toBeNull();
        expect(((await other.json()) as { error: { code: string } }).error.code).toBe(
          'idempotency_key_reused',
        );
      }
      expect(bench.processor.requests.get('/v1/payments/ch_A/capture')).toBe(1);
      expect(bench.processor.requests.get('/v1/payments/ch_B/capture')).toBeUndefined();
      // The very same request is still a replay.
      const again = await capture('/v1/payments/ch_A/capture');
      expect(again.status).toBe(201);
      expectGatewayReplay(again.headers);
      expect(bench.processor.requests.get('/v1/payments/ch_A/capture')).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it('a Redis record stored by an earlier version (no path in its fingerprint) is never replayed after the upgrade', async () => {
    const server = await startRedis();
    const client = createRedisClient(server.url);
    const gateway = await bench.startInProcess(
      bench.writePolicy([...payments(), captures]),
      server.url,
    );
    try {
      // What the earlier version stored for a charge under this key: same method, route and body.
      const body = { amount: 700, reference: 'ref-legacy' };
      const store = new RedisIdempotencyStore(client);
      const legacy = await legacyRequestFingerprint(
        'POST',
        'payments',
        'application/json',
        new TextEncoder().encode(JSON.stringify(body)),
      );
      const claim = await store.claim('key-legacy', legacy, 5_000);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      await store.complete(
        'key-legacy',
        claim.token,
        {
          status: 201,
          headers: [['content-type', 'application/json']],
          bodyBase64: btoa('{"id":"ch_recorded_elsewhere"}'),
        },
        86_400_000,
      );
      const answer = await pay(gateway.url, 'key-legacy', body);
      expect(answer.status).toBe(201);
      expect(answer.headers.get('idempotent-replayed')).toBeNull();
      expect(answer.text).not.toContain('ch_recorded_elsewhere');
      expect(bench.processor.chargesFor('ref-legacy')).toBe(1);

      // Under a prefix route the old record cannot say which capture it was: refused, not sent.
      const captureBody = '{"amount":500}';
      const old = await legacyRequestFingerprint(
        'POST',
        'captures',
        'application/json',
        new TextEncoder().encode(captureBody),
      );
      const captureClaim = await store.claim('key-legacy-capture', old, 5_000);
      if (captureClaim.kind !== 'claimed') throw new Error('expected a claim');
      await store.complete(
        'key-legacy-capture',
        captureClaim.token,
        { status: 201, headers: [], bodyBase64: btoa('{"id":"ch_A","captured":true}') },
        86_400_000,
      );
      const capture = await fetch(`${gateway.url}/v1/payments/ch_B/capture`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'key-legacy-capture' },
        body: captureBody,
      });
      expect(capture.status).toBe(422);
      expect(((await capture.json()) as { error: { reason?: string } }).error.reason).toBe(
        'recorded_before_upgrade',
      );
      expect(bench.processor.requests.get('/v1/payments/ch_B/capture')).toBeUndefined();
    } finally {
      await gateway.close();
      client.disconnect();
    }
  });

  it('Redis records: hash-tagged key, kept at least 24 h, released only by their owner', async () => {
    const server = await startRedis();
    const client = createRedisClient(server.url);
    await new Promise((resolve) => client.once('ready', resolve));
    try {
      const store = new RedisIdempotencyStore(client);
      expect(store.redisKey('abc')).toBe('paypath:idem:{abc}');
      const claim = await store.claim('rk-1', 'fp1', 5_000);
      expect(claim.kind).toBe('claimed');
      if (claim.kind !== 'claimed') return;
      expect(await store.claim('rk-1', 'fp1', 5_000)).toEqual({ kind: 'in_flight' });
      expect(await store.claim('rk-1', 'fp2', 5_000)).toEqual({
        kind: 'mismatch',
        fingerprint: 'fp1',
      });
      expect(await store.release('rk-1', 'someone-else')).toBe(false);
      expect(
        await store.complete(
          'rk-1',
          'someone-else',
          { status: 200, headers: [], bodyBase64: '' },
          86_400_000,
        ),
      ).toBe(false);
      expect(
        await store.complete(
          'rk-1',
          claim.token,
          { status: 201, headers: [['content-type', 'application/json']], bodyBase64: 'e30=' },
          86_400_000,
        ),
      ).toBe(true);
      expect(await client.pttl(store.redisKey('rk-1'))).toBeGreaterThan(86_400_000 - 60_000);
      expect(await store.claim('rk-1', 'fp1', 5_000)).toEqual({
        kind: 'completed',
        answer: {
          status: 201,
          headers: [['content-type', 'application/json']],
          bodyBase64: 'e30=',
        },
      });
      // A completed record cannot be released by the token that made it.
      expect(await store.release('rk-1', claim.token)).toBe(false);
      const second = await store.claim('rk-2', 'fp', 5_000);
      expect(second.kind === 'claimed' && (await store.release('rk-2', second.token))).toBe(true);
      expect(await client.exists(store.redisKey('rk-2'))).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('with the records flushed mid-stream, every attempt still carries the key and charges stay one per payment', async () => {
    const server = await startRedis();
    const gateway = await bench.startInProcess(bench.writePolicy(payments()), server.url);
    const client = createRedisClient(server.url);
    await new Promise((resolve) => client.once('ready', resolve));
    bench.processor.serviceTimeMs = 5;
    const keylessBefore = bench.processor.postsWithoutKey;
    try {
      const payments = Array.from({ length: 30 }, (_, i) => ({
        key: `flush-${i}`,
        body: { amount: 100 + i, reference: `flush-ref-${i}` },
      }));
      const first: string[] = [];
      // Each payment is sent, and then sent again (a client retry); Redis is flushed half-way.
      for (const [i, p] of payments.entries()) {
        if (i === 15) expect(await client.flushall()).toBe('OK');
        const answer = await pay(gateway.url, p.key, p.body);
        expect(answer.status).toBe(201);
        first.push(answer.text);
      }
      expect(await client.flushall()).toBe('OK');
      const seenBefore = bench.processor.requests.get('/v1/payments') ?? 0;
      for (const [i, p] of payments.entries()) {
        const retry = await pay(gateway.url, p.key, p.body);
        expect(retry.status).toBe(201);
        expect(retry.text).toBe(first[i]); // the processor replays its own stored answer
      }
      // The records were gone, so every retry went upstream with its key, and the processor de-duplicated.
      expect((bench.processor.requests.get('/v1/payments') ?? 0) - seenBefore).toBe(30);
      expect(bench.processor.postsWithoutKey).toBe(keylessBefore);
      for (const p of payments) expect(bench.processor.chargesFor(p.body.reference)).toBe(1);
    } finally {
      client.disconnect();
      await gateway.close();
    }
  });

  it('flushing Redis while a payment is in flight: this instance still holds the claim, the retry is refused without a send', async () => {
    const server = await startRedis();
    const gateway = await bench.startInProcess(bench.writePolicy(payments()), server.url);
    const client = createRedisClient(server.url);
    await new Promise((resolve) => client.once('ready', resolve));
    bench.processor.serviceTimeMs = 400;
    try {
      const body = { amount: 900, reference: 'inflight-flush-1' };
      const seen = bench.processor.requests.get('/v1/payments') ?? 0;
      const first = pay(gateway.url, 'inflight-flush-1', body);
      await until(
        'the processor to receive the payment',
        () => (bench.processor.requests.get('/v1/payments') ?? 0) > seen,
        { timeoutMs: 5_000, intervalMs: 10 },
      );
      expect(await client.exists('paypath:idem:{inflight-flush-1}')).toBe(1);
      expect(await client.flushall()).toBe('OK');
      // The claim is gone from Redis, not from this instance's memory: in use, and not sent again.
      const sentBefore = bench.processor.requests.get('/v1/payments') ?? 0;
      const retry = await pay(gateway.url, 'inflight-flush-1', body);
      expect(retry.status).toBe(409);
      expect(JSON.parse(retry.text).error.code).toBe('idempotency_key_in_use');
      expect(bench.processor.requests.get('/v1/payments') ?? 0).toBe(sentBefore);
      expect((await first).status).toBe(201);
      expect(bench.processor.chargesFor('inflight-flush-1')).toBe(1);
    } finally {
      client.disconnect();
      await gateway.close();
    }
  });

  it('answers from the processor lookup after an attempt was sent without an answer (no second send)', async () => {
    const policy = bench.writePolicy(
      payments({
        attemptTimeoutMs: 400,
        idempotency: { upstreamHonors: false, lookup: '/v1/payments/by-key/{key}' },
      }),
    );
    const gateway = await bench.startInProcess(policy);
    bench.processor.serviceTimeMs = 0;
    bench.processor.honorKeys = false; // as the route says: a second send would charge again
    await bench.carriers[0]!.setMode({ mode: 'slow', delayMs: 1_500 }); // request gets through, answer is late
    try {
      const lookupsBefore = bench.processor.lookups;
      const answer = await pay(gateway.url, 'lookup-1', { amount: 700, reference: 'lookup-ref-1' });
      expect(answer.status).toBe(201);
      expect(answer.headers.get('x-paypath-reconciled')).toBe('true');
      expect(JSON.parse(answer.text).reference).toBe('lookup-ref-1');
      expect(bench.processor.lookups - lookupsBefore).toBe(1);
      expect(bench.processor.chargesFor('lookup-ref-1')).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it('keeps charging when Redis is killed: the claim and the answer stay in memory, the retry is replayed', async () => {
    const server = await startRedis();
    const gateway = await bench.startInProcess(bench.writePolicy(payments()), server.url);
    bench.processor.serviceTimeMs = 0;
    try {
      await server.kill();
      const keylessBefore = bench.processor.postsWithoutKey;
      const answer = await pay(gateway.url, 'redis-down-1', {
        amount: 100,
        reference: 'redis-down-1',
      });
      expect(answer.status).toBe(201);
      const again = await pay(gateway.url, 'redis-down-1', {
        amount: 100,
        reference: 'redis-down-1',
      });
      expect(again.status).toBe(201);
      expectGatewayReplay(again.headers);
      expect(again.text).toBe(answer.text);
      expect(bench.processor.chargesFor('redis-down-1')).toBe(1);
      expect(bench.processor.postsWithoutKey).toBe(keylessBefore);
    } finally {
      await gateway.close();
    }
  });
});
