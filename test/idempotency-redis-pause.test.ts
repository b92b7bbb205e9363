import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient, type RedisClient } from '../src/adapters/node/redis/client.ts';
import type { RunningGateway } from '../src/adapters/node/server.ts';
import { ExactlyOnceBench } from './support/exactly-once-bench.ts';
import { TestRedisServer } from './support/redis-server.ts';

const POLL = { timeout: 10_000, interval: 20 };

describe('Redis paused (SIGSTOP) during an idempotency claim, then resumed', () => {
  let bench: ExactlyOnceBench;
  let redis: TestRedisServer;
  let gateway: RunningGateway;
  let client: RedisClient;

  beforeAll(async () => {
    // A processor that does not de-duplicate, as the route says: a second send is a second charge.
    bench = await ExactlyOnceBench.start({ serviceTimeMs: 1_500 });
    bench.processor.honorKeys = false;
    redis = await TestRedisServer.start();
    const policy = bench.writePolicy(
      [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: bench.pathIds,
          attemptTimeoutMs: 3_000,
          deadlineMs: 4_000,
          idempotency: { upstreamHonors: false },
        },
      ],
      { idempotencyStore: { lockGraceMs: 1_000 } },
    );
    gateway = await bench.startInProcess(policy, redis.url, { warmCodePaths: false });
    client = createRedisClient(redis.url);
  });
  afterAll(async () => {
    redis?.resume();
    client?.disconnect();
    await gateway?.close();
    await bench?.stop();
    await redis?.stop();
  });

  const pay = (key: string) =>
    fetch(`${gateway.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ amount: 300, reference: `ref-${key}` }),
    });
  const sent = () => bench.processor.requests.get('/v1/payments') ?? 0;

  it("the claim that lands late is nobody's: a retry while the first is in flight is refused (409), never sent again", async () => {
    const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
      idempotency: { store: string };
    };
    expect(status.idempotency.store).toBe('redis');
    await expect
      .poll(async () => (await client.ping().catch(() => 'down')) === 'PONG', POLL)
      .toBe(true);
    const key = 'paused-claim-1';
    const record = `paypath:idem:{${key}}`;

    redis.pause();
    let first: Promise<Response>;
    try {
      // The claim (SET NX) is written to a server that does not answer: it times out and the
      // payment goes on without one. The SET itself waits in the server's socket buffer.
      first = pay(key);
      await expect.poll(sent, POLL).toBe(1);
    } finally {
      redis.resume();
    }
    // The SET lands now, an in-flight claim whose token the gateway gave up on.
    await expect.poll(async () => client.get(record), POLL).not.toBeNull();
    expect(JSON.parse((await client.get(record))!)).toMatchObject({ s: 'i' });

    // The first payment is still at the processor. Its retry meets the late claim: in use, not sent.
    const retry = await pay(key);
    expect(retry.status).toBe(409);
    expect(((await retry.json()) as { error: { code: string } }).error.code).toBe(
      'idempotency_key_in_use',
    );
    expect(sent()).toBe(1);

    const answer = await first;
    expect(answer.status).toBe(201);
    await answer.arrayBuffer();
    expect(bench.processor.chargesFor(`ref-${key}`)).toBe(1);
    // The request that gave up on its claim does not complete it either: the record stays in flight
    // until it expires (deadline + grace), when a retry goes to the processor under the same key.
    expect(JSON.parse((await client.get(record))!)).toMatchObject({ s: 'i' });
    expect(await client.pttl(record)).toBeLessThanOrEqual(4_000 + 1_000);
  });
});
