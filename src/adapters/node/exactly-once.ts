import type { RedisClient } from './redis/client.ts';
import type { Gateway } from '../../core/gateway.ts';
import { FallbackIdempotencyStore } from '../../core/idempotency/fallback-store.ts';
import { MemoryIdempotencyStore } from '../../core/idempotency/memory-store.ts';
import type { IdempotencyStore } from '../../core/idempotency/store.ts';
import type { Logger } from '../../core/logger.ts';
import type { ForwardQueue, QueuedRequest } from '../../core/queue/forward-queue.ts';
import { QueueForwarder } from '../../core/queue/forwarder.ts';
import { MemoryForwardQueue } from '../../core/queue/memory-queue.ts';
import type { QueueCipher } from '../../core/queue/queue-cipher.ts';
import { RedisForwardQueue } from './redis/forward-queue.ts';
import { RedisIdempotencyStore } from './redis/idempotency-store.ts';

export interface ExactlyOnceParts {
  idempotencyStore: IdempotencyStore;
  queue: ForwardQueue;
  /** Sections for GET /status. */
  statusSections: Record<string, () => unknown>;
  close(): void;
}

/**
 * The idempotency store and the store-and-forward queue for the Node runtime: in Redis when a
 * client is given (shared, durable), in memory otherwise. Starts the queue forwarder, which
 * tries the queue head every `queue.retryIntervalMs` (read from the running policy).
 */
export function createExactlyOnceParts(options: {
  redis?: RedisClient;
  gateway: () => Gateway;
  logger: Logger;
  /** Bound on the in-memory idempotency records (with Redis, those it could not take), estimated bytes. Default: DEFAULT_MEMORY_IDEMPOTENCY_BYTES (64 MiB). */
  memoryIdempotencyBytes?: number;
  /** Called after the forwarder dead-letters a queued request (metrics). */
  onDeadLetter?: (request: QueuedRequest) => void;
  /** Seals what waits in the Redis queue. Without it the Redis queue takes nothing (503 queue_key_missing). Not used in memory. */
  queueCipher?: QueueCipher;
}): ExactlyOnceParts {
  // Records dropped before their TTL shorten the window in which a retry is answered here: say so, at most once a minute.
  let warnedAt = Number.NEGATIVE_INFINITY;
  const onDroppedEarly = (dropped: number) => {
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    options.logger.warn(
      { event: 'idempotency_dropped_early', dropped },
      'in-memory idempotency records dropped before their TTL to stay within --idempotency-memory-mb: a retry of such a key reaches the processor again (use Redis, or raise the bound)',
    );
  };
  // With Redis too: claims and answers Redis cannot take stay here (FallbackIdempotencyStore).
  const memoryStore = new MemoryIdempotencyStore({
    onDroppedEarly,
    ...(options.memoryIdempotencyBytes !== undefined
      ? { maxBytes: options.memoryIdempotencyBytes }
      : {}),
  });
  const idempotencyStore = options.redis
    ? new FallbackIdempotencyStore(
        new RedisIdempotencyStore(options.redis),
        memoryStore,
        options.logger,
      )
    : memoryStore;
  const queue = options.redis
    ? new RedisForwardQueue(
        options.redis,
        options.queueCipher ? { cipher: options.queueCipher } : {},
      )
    : new MemoryForwardQueue();
  const forwarder = new QueueForwarder({
    queue,
    gateway: options.gateway,
    logger: options.logger,
    ...(options.onDeadLetter ? { onDeadLetter: options.onDeadLetter } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    // Always running (one head read per interval): a swapped policy may add queue routes, and a
    // durable queue may hold requests from before a restart under another policy.
    if (stopped) return;
    timer = setTimeout(() => {
      forwarder.drain().finally(schedule);
    }, options.gateway().policy.queue.retryIntervalMs);
    timer.unref();
  };
  schedule();
  return {
    idempotencyStore,
    queue,
    statusSections: {
      idempotency: () => {
        const memory = {
          records: memoryStore.size,
          bytes: memoryStore.bytes,
          droppedBeforeExpiry: memoryStore.droppedBeforeExpiry,
        };
        return idempotencyStore === memoryStore
          ? { store: idempotencyStore.kind, shared: false, ...memory }
          : { store: idempotencyStore.kind, shared: true, local: memory };
      },
      queue: async () => {
        try {
          return await queue.stats(Date.now());
        } catch (error) {
          return {
            kind: queue.kind,
            durable: queue.kind === 'redis',
            error: `unreachable: ${(error as Error).message}`,
          };
        }
      },
    },
    close: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Waits (at most `maxMs`) for a Redis client's first connection, so the first requests after a
 * start find the shared stores ready instead of falling through. Never fails: Redis being down
 * only means running without it until it returns.
 */
export async function waitForRedis(redis: RedisClient, maxMs = 2_000): Promise<boolean> {
  if (redis.status === 'ready') return true;
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => redis.once('ready', () => resolve(true))),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), maxMs))),
  ]);
  clearTimeout(timer);
  return ready;
}
