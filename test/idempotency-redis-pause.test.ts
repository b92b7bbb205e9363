import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedisClient, type RedisClient } from '../src/adapters/node/redis/client.ts';
import type { RunningGateway } from '../src/adapters/node/server.ts';
import { ExactlyOnceBench, expectGatewayReplay } from './support/exactly-once-bench.ts';
import { parsePrometheusText, sampleValue } from './support/prom-text.ts';
import { TestRedisServer } from './support/redis-server.ts';

const POLL = { timeout: 10_000, interval: 20 };

describe('Redis paused (SIGSTOP) or stopped around an idempotency claim, on a processor that does not de-duplicate', () => {
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
  // Each test starts from a running, answering Redis and a gateway connected to it, whatever the
  // test before did (one stops Redis and starts it again empty, one pauses it, after which the
  // gateway's client may be reconnecting; a failed test may leave it paused or stopped).
  beforeEach(async () => {
    redis.resume();
    if (!redis.running) await redis.restart();
    await expect
      .poll(async () => (await client.ping().catch(() => 'down')) === 'PONG', POLL)
      .toBe(true);
    await expect
      .poll(async () => {
        const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
        return sampleValue(parsePrometheusText(metrics), 'paypath_redis_up');
      }, POLL)
      .toBe(1);
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
  const inUse = async (response: Response) => {
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'idempotency_key_in_use',
    );
  };

  it("the claim that lands late is nobody's: a retry while the first is in flight is refused (409), never sent again", async () => {
    const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
      idempotency: { store: string };
    };
    expect(status.idempotency.store).toBe('redis');
    const key = 'paused-claim-1';
    const record = `paypath:idem:{${key}}`;
    const before = sent();

    redis.pause();
    let first: Promise<Response>;
    try {
      // The claim (SET NX) is written to a server that does not answer: it times out and the
      // payment goes on with its claim in this instance's memory only. The SET itself waits in
      // the server's socket buffer.
      first = pay(key);
      await expect.poll(sent, POLL).toBe(before + 1);
    } finally {
      redis.resume();
    }
    // The SET lands now, an in-flight claim whose token the gateway gave up on.
    await expect.poll(async () => client.get(record), POLL).not.toBeNull();
    expect(JSON.parse((await client.get(record))!)).toMatchObject({ s: 'i' });

    // The first payment is still at the processor. Its retry meets this instance's claim (on
    // another instance, the late one in Redis): in use, not sent.
    await inUse(await pay(key));
    expect(sent()).toBe(before + 1);

    const answer = await first;
    expect(answer.status).toBe(201);
    await answer.arrayBuffer();
    expect(bench.processor.chargesFor(`ref-${key}`)).toBe(1);
    // The request that gave up on its Redis claim does not complete it either: the record stays in
    // flight until it expires (deadline + grace). The answer is kept in this instance's memory.
    expect(JSON.parse((await client.get(record))!)).toMatchObject({ s: 'i' });
    expect(await client.pttl(record)).toBeLessThanOrEqual(4_000 + 1_000);
  });

  const replayOf = async (response: Response, original: string) => {
    expect(response.status).toBe(201);
    expectGatewayReplay(response.headers);
    expect(await response.text()).toBe(original);
  };
  const localRecords = async () => {
    const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
      idempotency: { store: string; local: { records: number } };
    };
    expect(status.idempotency.store).toBe('redis');
    return status.idempotency.local.records;
  };
  /** The gateway's client is connected to the restarted Redis and has passed its ready check. */
  const gatewayReconnected = async () => {
    const ours = await client.client('ID');
    const list = (await client.client('LIST')) as string;
    return list
      .split('\n')
      .some((line) => !line.startsWith(`id=${ours} `) && /\bcmd=(?!NULL\b|hello\b)\S+/.test(line));
  };

  it('Redis paused after the claim: the retry in flight gets 409, after completion the replay, never a second send', async () => {
    const key = 'paused-mid-flight-1';
    const before = sent();
    const first = pay(key);
    await expect.poll(sent, POLL).toBe(before + 1);
    expect(JSON.parse((await client.get(`paypath:idem:{${key}}`))!)).toMatchObject({ s: 'i' });

    redis.pause();
    try {
      await inUse(await pay(key));
      const answer = await first;
      expect(answer.status).toBe(201);
      const original = await answer.text();
      // The answer could not reach Redis: this instance kept it.
      await replayOf(await pay(key), original);
    } finally {
      redis.resume();
    }
    expect(sent()).toBe(before + 1);
    expect(bench.processor.chargesFor(`ref-${key}`)).toBe(1);
  });

  // It stops the test's Redis and starts it again, empty (the keys of the other tests are their own).
  it('Redis stopped: claims and answers stay in this instance, and hold after Redis returns empty', async () => {
    const done = 'stopped-1';
    const straddling = 'stopped-2';
    const before = sent();
    const recordsBefore = await localRecords();
    await redis.kill();

    const first = pay(done);
    await expect.poll(sent, POLL).toBe(before + 1);
    await inUse(await pay(done));
    const answer = await first;
    expect(answer.status).toBe(201);
    const original = await answer.text();
    await replayOf(await pay(done), original);

    // Claimed while Redis is away, still in flight when it returns with nothing of it.
    const second = pay(straddling);
    await expect.poll(sent, POLL).toBe(before + 2);
    await redis.restart();
    await expect.poll(gatewayReconnected, POLL).toBe(true);
    await inUse(await pay(straddling));
    const secondAnswer = await second;
    expect(secondAnswer.status).toBe(201);
    const secondOriginal = await secondAnswer.text();
    await replayOf(await pay(straddling), secondOriginal);
    await replayOf(await pay(done), original);

    expect(sent()).toBe(before + 2);
    // Both answers are kept here: Redis has neither.
    expect(await localRecords()).toBe(recordsBefore + 2);
    expect(bench.processor.chargesFor(`ref-${done}`)).toBe(1);
    expect(bench.processor.chargesFor(`ref-${straddling}`)).toBe(1);
  });
});
