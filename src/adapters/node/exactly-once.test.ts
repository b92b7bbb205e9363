import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../core/gateway.ts';
import { silentLogger } from '../../core/logger.ts';
import { createExactlyOnceParts } from './exactly-once.ts';
import type { RedisClient } from './redis/client.ts';

const gateway = (() => ({
  policy: { queue: { retryIntervalMs: 60_000 } },
})) as unknown as () => Gateway;
const answer = {
  status: 201,
  headers: [['content-type', 'application/json']] as [string, string][],
  bodyBase64: 'e30=',
};

async function keptAfterNewer(parts: ReturnType<typeof createExactlyOnceParts>): Promise<boolean> {
  const store = parts.idempotencyStore;
  for (const key of ['first', 'second']) {
    const claim = await store.claim(key, 'fp', 10_000);
    if (claim.kind !== 'claimed') throw new Error('expected a claim');
    await store.complete(key, claim.token, answer, 86_400_000);
  }
  return (await store.claim('first', 'fp', 10_000)).kind === 'completed';
}

describe('createExactlyOnceParts without Redis', () => {
  it('bounds the memory idempotency store by memoryIdempotencyBytes', async () => {
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (fields: Record<string, unknown>) => void warnings.push(String(fields.event)),
    };
    const small = createExactlyOnceParts({ gateway, logger, memoryIdempotencyBytes: 500 });
    const roomy = createExactlyOnceParts({ gateway, logger: silentLogger });
    try {
      expect(small.idempotencyStore.kind).toBe('memory');
      expect(await keptAfterNewer(small)).toBe(false);
      expect(await keptAfterNewer(roomy)).toBe(true);
      // Operators see it: one warning, and the count in /status.
      expect(warnings).toEqual(['idempotency_dropped_early']);
      expect(await small.statusSections.idempotency!()).toMatchObject({
        store: 'memory',
        droppedBeforeExpiry: 2,
      }); // 'first', then 'second' when 'first' was claimed again
      expect(await roomy.statusSections.idempotency!()).toMatchObject({
        store: 'memory',
        droppedBeforeExpiry: 0,
      });
    } finally {
      small.close();
      roomy.close();
    }
  });
});

describe('createExactlyOnceParts with Redis', () => {
  it('keeps claims and answers in memory while Redis cannot be reached, and shows them in /status', async () => {
    const unreachable = () => Promise.reject(new Error('Connection is closed.'));
    const redis = {
      call: unreachable,
      get: unreachable,
      eval: unreachable,
    } as unknown as RedisClient;
    const parts = createExactlyOnceParts({ gateway, logger: silentLogger, redis });
    try {
      const store = parts.idempotencyStore;
      expect(store.kind).toBe('redis');
      const claim = await store.claim('k', 'fp', 10_000);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      expect(await store.claim('k', 'fp', 10_000)).toEqual({ kind: 'in_flight' });
      expect(await store.complete('k', claim.token, answer, 86_400_000)).toBe(true);
      expect(await store.claim('k', 'fp', 10_000)).toEqual({ kind: 'completed', answer });
      expect(await parts.statusSections.idempotency!()).toMatchObject({
        store: 'redis',
        shared: true,
        local: { records: 1, droppedBeforeExpiry: 0 },
      });
    } finally {
      parts.close();
    }
  });
});
