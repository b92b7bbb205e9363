import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExactlyOnceBench, GatewayProcess } from './support/exactly-once-bench.ts';
import { until } from './support/poll.ts';
import { TestRedisServer } from './support/redis-server.ts';

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown> & { error?: { code: string } };
}

async function post(
  url: string,
  path: string,
  key: string,
  body: unknown,
  merchant?: string,
): Promise<Answer> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': key,
      ...(merchant ? { 'x-merchant-id': merchant } : {}),
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Answer['json'],
  };
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url)).json()) as Record<string, unknown>;
}

function routes(paths: string[]) {
  return [
    {
      id: 'payments',
      match: { method: 'POST', path: '/v1/payments' },
      class: 'payment',
      paths,
      attemptTimeoutMs: 2_000,
      idempotency: { upstreamHonors: true },
      whenAllDown: 'queue',
    },
    {
      id: 'billing',
      match: { method: 'POST', pathPrefix: '/v1/billing/' },
      class: 'billing',
      paths,
      attemptTimeoutMs: 2_000,
      idempotency: { upstreamHonors: true },
      whenAllDown: 'queue',
    },
  ];
}

const queueSettings = {
  queue: {
    retryIntervalMs: 200,
    maxAttempts: 3,
    payments: { floorLimit: 5_000, merchantExposureCap: 8_000 },
  },
};

describe('store-and-forward when every carrier is down', () => {
  let bench: ExactlyOnceBench;
  let redis: TestRedisServer;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    bench = await ExactlyOnceBench.start();
    redis = await TestRedisServer.start();
  });
  afterAll(async () => {
    await gateway?.kill();
    await bench?.stop();
    await redis?.stop();
  });

  it('queues within the limits, refuses over them, survives a restart on Redis and drains exactly once, in order', async () => {
    const policy = bench.writePolicy(routes(bench.pathIds), queueSettings);
    await bench.setAll('refuse');
    // The processor is shared by the tests here: count what this test sends it.
    const sent = (target: string) => bench.processor.requests.get(target) ?? 0;
    const paymentsBefore = sent('/v1/payments');
    const uploadsBefore = sent('/v1/billing/upload');
    gateway = await GatewayProcess.start(policy, redis.url);
    const url = gateway.url;

    const queued: { id: string; kind: 'payment' | 'billing'; ref: string }[] = [];
    const expectQueued = (answer: Answer, kind: 'payment' | 'billing', ref: string) => {
      expect(answer.status).toBe(202);
      expect(answer.json.queued).toBe(true);
      expect(answer.headers.get('location')).toBe(`/v1/queue/${String(answer.json.id)}`);
      expect(answer.headers.get('retry-after')).toBeNull();
      queued.push({ id: String(answer.json.id), kind, ref });
    };
    const expectRefused = (answer: Answer, code: string) => {
      expect(answer.status).toBe(503);
      expect(answer.json.error?.code).toBe(code);
    };

    expectQueued(
      await post(url, '/v1/billing/upload', 'b-1', { records: [1, 2, 3] }),
      'billing',
      'b-1',
    );
    expectQueued(
      await post(url, '/v1/payments', 'm-1', { amount: 3_000, reference: 'sf-1' }, 'shop-a'),
      'payment',
      'sf-1',
    );
    expectRefused(
      await post(url, '/v1/payments', 'm-big', { amount: 6_000, reference: 'sf-big' }, 'shop-a'),
      'queue_floor_limit_exceeded',
    );
    expectQueued(
      await post(url, '/v1/payments', 'm-2', { amount: 4_000, reference: 'sf-2' }, 'shop-a'),
      'payment',
      'sf-2',
    );
    expectRefused(
      await post(url, '/v1/payments', 'm-cap', { amount: 2_000, reference: 'sf-cap' }, 'shop-a'),
      'queue_exposure_cap_exceeded',
    );
    expectQueued(
      await post(url, '/v1/payments', 'm-3', { amount: 2_000, reference: 'sf-3' }, 'shop-b'),
      'payment',
      'sf-3',
    );
    expectRefused(
      await post(url, '/v1/payments', 'm-anon', { amount: 100, reference: 'sf-anon' }),
      'queue_merchant_required',
    );
    expectRefused(
      await post(url, '/v1/payments', 'm-noamt', { reference: 'sf-noamt' }, 'shop-b'),
      'queue_amount_required',
    );
    expectQueued(await post(url, '/v1/billing/upload', 'b-2', { records: [4] }), 'billing', 'b-2');

    // A client retry of a queued request gets the same 202 and queue id, not a second entry.
    const retry = await post(
      url,
      '/v1/payments',
      'm-1',
      { amount: 3_000, reference: 'sf-1' },
      'shop-a',
    );
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.json.id).toBe(queued[1]!.id);

    const before = (await getJson(`${url}/status`)).queue as Record<string, unknown>;
    expect(before).toMatchObject({ kind: 'redis', durable: true, depth: 5, deadLettered: 0 });
    expect(typeof before.oldestAgeMs).toBe('number');

    // Crash and restart on the same Redis: the queue is still there.
    const port = gateway.port;
    await gateway.kill();
    gateway = await GatewayProcess.start(policy, redis.url, port);
    expect(((await getJson(`${url}/status`)).queue as Record<string, unknown>).depth).toBe(5);
    expect((await getJson(`${url}/v1/queue/${queued[0]!.id}`)).state).toBe('queued');
    expect(sent('/v1/payments')).toBe(paymentsBefore);

    // One carrier comes back: the queue drains.
    await bench.carriers[1]!.setMode({ mode: 'up' });
    const views = [];
    for (const entry of queued) {
      let last: unknown;
      const forwarded = await until(
        `queued ${entry.id} to be forwarded`,
        async () => {
          const view = await getJson(`${url}/v1/queue/${entry.id}`);
          last = view;
          return view.state === 'forwarded' ? view : undefined;
        },
        {
          timeoutMs: 15_000,
          intervalMs: 100,
          // Seen once under a full suite's load and not reproduced: say where the drain stood.
          state: async () => {
            const status = await getJson(`${url}/status`);
            return { entry: last, queue: status.queue, paths: status.paths };
          },
        },
      );
      views.push(forwarded);
    }
    expect(((await getJson(`${url}/status`)).queue as Record<string, unknown>).depth).toBe(0);

    // Exactly once: each queued request reached the processor once, by its key.
    expect(sent('/v1/payments') - paymentsBefore).toBe(3);
    expect(sent('/v1/billing/upload') - uploadsBefore).toBe(2);
    const charges = bench.processor.charges.filter((c) => c.reference?.startsWith('sf-'));
    expect(charges.map((c) => c.reference)).toEqual(['sf-1', 'sf-2', 'sf-3']);
    expect(charges.map((c) => c.idempotencyKey)).toEqual(['m-1', 'm-2', 'm-3']);
    // In order: each was finished no earlier than the one queued before it.
    const finished = views.map((v) => Date.parse(String(v.finishedAt)));
    expect([...finished].sort((a, b) => a - b)).toEqual(finished);
    const firstPayment = views[1] as { outcome: { status: number; body: string } };
    expect(firstPayment.outcome.status).toBe(201);
    expect(JSON.parse(firstPayment.outcome.body).reference).toBe('sf-1');
    expect(bench.processor.duplicateCharges).toBe(0);
    await gateway.kill();
    gateway = undefined;
  });

  it('in memory (no Redis), /status says the queue is not durable, and a request failing every attempt is dead-lettered with the reason', async () => {
    await bench.setAll('refuse');
    const running = await bench.startInProcess(
      bench.writePolicy(routes(bench.pathIds), queueSettings),
    );
    try {
      const answer = await post(running.url, '/v1/billing/upload', 'dead-1', { records: [9] });
      expect(answer.status).toBe(202);
      const status = (await getJson(`${running.url}/status`)).queue as Record<string, unknown>;
      expect(status).toMatchObject({ kind: 'memory', durable: false, depth: 1 });
      bench.processor.failNext(1_000, 503);
      await bench.setAll('up');
      const view = await until(
        'the failing request to be dead-lettered',
        async () => {
          const v = await getJson(`${running.url}/v1/queue/${String(answer.json.id)}`);
          return v.state === 'dead' ? v : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      expect(view.reason).toBe('http_503 after 3 attempts');
      expect(view.attempts).toBe(3);
      expect((await getJson(`${running.url}/status`)).queue).toMatchObject({
        depth: 0,
        deadLettered: 1,
      });
      const missing = await fetch(`${running.url}/v1/queue/q_00000000-0000-0000-0000-000000000000`);
      expect(missing.status).toBe(404);
    } finally {
      bench.processor.failNext(0);
      await running.close();
    }
  });
});
