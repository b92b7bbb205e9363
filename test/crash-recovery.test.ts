import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExactlyOnceBench,
  expectGatewayReplay,
  GatewayProcess,
} from './support/exactly-once-bench.ts';
import { until } from './support/poll.ts';
import { TestRedisServer } from './support/redis-server.ts';

describe('gateway killed with SIGKILL in the middle of a payment', () => {
  let bench: ExactlyOnceBench;
  let redis: TestRedisServer;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    bench = await ExactlyOnceBench.start({ serviceTimeMs: 800 });
    redis = await TestRedisServer.start();
  });
  afterAll(async () => {
    await gateway?.kill();
    await bench?.stop();
    await redis?.stop();
  });

  it('the client retries the key after a restart on the same Redis: exactly one charge, one consistent answer', async () => {
    const policy = bench.writePolicy(
      [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: bench.pathIds,
          attemptTimeoutMs: 3_000,
          deadlineMs: 3_000,
          idempotency: { upstreamHonors: true },
        },
      ],
      // The dead instance's claim expires 3.5 s after it was taken (deadline + grace).
      { idempotencyStore: { lockGraceMs: 500 } },
    );
    gateway = await GatewayProcess.start(policy, redis.url);
    const key = 'crash-key-1';
    const body = JSON.stringify({ amount: 4200, reference: 'crash-ref-1' });
    const send = () =>
      fetch(`${gateway!.url}/v1/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body,
      });

    const firstTry = send().then(
      (r) => r.status,
      () => 'connection lost',
    );
    // Kill once the processor is working on it: the claim is in Redis, the answer never comes back.
    await until(
      'the processor to receive the payment',
      () => (bench.processor.requests.get('/v1/payments') ?? 0) >= 1,
      { timeoutMs: 5_000, intervalMs: 20 },
    );
    const port = gateway.port;
    await gateway.kill();
    expect(await firstTry).toBe('connection lost');

    gateway = await GatewayProcess.start(policy, redis.url, port);
    // The client retries with the same key: 409 while the dead instance's claim lives, then the answer.
    const statuses: number[] = [];
    const answer = await until(
      "the retried key's answer (409 while the dead instance's claim lives)",
      async () => {
        const response = await send();
        statuses.push(response.status);
        if (response.status === 409) {
          expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
            'idempotency_key_in_use',
          );
          return undefined;
        }
        return { status: response.status, text: await response.text() };
      },
      { timeoutMs: 12_000, intervalMs: 200, state: () => statuses },
    );
    expect(answer.status).toBe(201);
    const charges = bench.processor.charges.filter((c) => c.reference === 'crash-ref-1');
    expect(charges).toHaveLength(1);
    expect(JSON.parse(answer.text).id).toBe(charges[0]!.id);
    expect(charges[0]!.idempotencyKey).toBe(key);

    // The restarted instance recorded that answer: the next retry is its replay, the processor sees nothing.
    const seen = bench.processor.requests.get('/v1/payments');
    const again = await send();
    expect(again.status).toBe(201);
    expectGatewayReplay(again.headers);
    expect(bench.processor.requests.get('/v1/payments')).toBe(seen);
    expect(await again.text()).toBe(answer.text);
    expect(bench.processor.chargesFor('crash-ref-1')).toBe(1);
    expect(bench.processor.duplicateCharges).toBe(0);
  });
});
