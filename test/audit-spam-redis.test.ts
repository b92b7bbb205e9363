import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AUDIT_STREAM_KEY } from '../src/adapters/node/redis/audit-stream.ts';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import { silentLogger } from '../src/core/logger.ts';
import { policyHash } from '../src/core/policy/hash.ts';
import { validatePolicyObject } from '../src/core/policy/parse.ts';
import { TEST_QUEUE_KEY } from './support/exactly-once-bench.ts';
import { REFUSED_PORT, TestRedisServer } from './support/redis-server.ts';

const MAXMEMORY = 8 * 1024 * 1024;
const SPAM_REQUESTS = 800; // 800 × 15 KB paths: 12 MB of audit, more than Redis may hold
const SPAM_CONCURRENCY = 8;

/** Audit spam against a Redis with a small maxmemory: the queue must still take a request. */
describe('audit spam never crowds the queue out of Redis', () => {
  let redis: TestRedisServer;
  let client: Redis;
  let gateway: RunningGateway;

  beforeAll(async () => {
    redis = await TestRedisServer.start({
      extraArgs: ['--maxmemory', String(MAXMEMORY), '--maxmemory-policy', 'noeviction'],
    });
    client = new Redis(redis.url); // the test's own reads, with ioredis's patient defaults
    const parsed = validatePolicyObject({
      version: 1,
      paths: [{ id: 'only', upstream: `http://127.0.0.1:${REFUSED_PORT}`, connectTimeoutMs: 300 }], // refused: billing is queued
      routes: [
        {
          id: 'billing',
          match: { method: 'POST', pathPrefix: '/v1/billing/' },
          class: 'billing',
          paths: ['only'],
          idempotency: { upstreamHonors: true },
          whenAllDown: 'queue',
        },
      ],
      queue: { retryIntervalMs: 60_000 },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    gateway = await startNodeGateway({
      policy: parsed.policy,
      policyHash: await policyHash(parsed.policy),
      port: 0,
      logger: silentLogger,
      redisUrl: redis.url,
      queueKeys: [Buffer.from(TEST_QUEUE_KEY, 'base64')],
      processMetrics: false,
      warmCodePaths: false,
    });
  });
  afterAll(async () => {
    await gateway?.close();
    client?.disconnect();
    await redis?.stop();
  });

  it('15 KB-path records are bounded and rate limited, the stream stays small, and a billing upload is still queued', async () => {
    const longPath = `/admin/${'a'.repeat(15_000)}`;
    let next = 0;
    const statuses: number[] = [];
    const spammer = async () => {
      while (next < SPAM_REQUESTS) {
        next++;
        const response = await fetch(`${gateway.url}${longPath}`);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    };
    await Promise.all(Array.from({ length: SPAM_CONCURRENCY }, spammer));
    expect(statuses.filter((s) => s !== 401)).toEqual([]);

    const queued = await fetch(`${gateway.url}/v1/billing/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'billing-after-spam' },
      body: JSON.stringify({ records: [1, 2, 3] }),
    });
    const body = (await queued.json()) as { queued?: boolean; error?: { code: string } };
    expect({ status: queued.status, body }).toMatchObject({ status: 202, body: { queued: true } });

    // Rate limited: one address's burst (20), not one record per request.
    const length = await client.xlen(AUDIT_STREAM_KEY);
    expect(length).toBeGreaterThan(0);
    expect(length).toBeLessThan(SPAM_REQUESTS / 10);
    const [, fields] = (await client.xrevrange(AUDIT_STREAM_KEY, '+', '-', 'COUNT', 1))[0]!;
    const record = JSON.parse(fields[1]!) as { action: string; details: Record<string, unknown> };
    expect(record.action).toBe('auth.failed');
    expect(String(record.details.path)).toHaveLength(200);
    expect(record.details.client).toMatch(/127\.0\.0\.1$/);
  });
});
