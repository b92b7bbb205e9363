import type { RedisClient } from './client.ts';
import type {
  EnqueueResult,
  ForwardQueue,
  QueueEntryView,
  QueuedOutcome,
  QueuedRequest,
  QueueStats,
} from '../../../core/queue/forward-queue.ts';
import { queuedView } from '../../../core/queue/forward-queue.ts';
import {
  QueuePayloadError,
  type QueueCipher,
  type SealedPayload,
} from '../../../core/queue/queue-cipher.ts';
import {
  ENQUEUE_SCRIPT,
  FINISH_SCRIPT,
  LOCK_SCRIPT,
  UNLOCK_SCRIPT,
} from './forward-queue-scripts.ts';

/** A queued request as kept in Redis: what routing, limits and ordering need in clear; target, headers and body sealed. */
type StoredRequest = Omit<QueuedRequest, 'target' | 'headers' | 'bodyBase64' | 'unreadable'> & {
  sealed?: SealedPayload;
  /** Written in clear by versions before the queue was encrypted; still forwarded, then deleted like any other. */
  target?: string;
  headers?: [string, string][];
  bodyBase64?: string | null;
};

/** While queued: the request and its view. Once forwarded or dead-lettered: the view alone. */
interface StoredItem {
  request?: StoredRequest;
  view: QueueEntryView;
}

/**
 * The store-and-forward queue in Redis Streams: durable across gateway restarts and shared by
 * instances. Order is the stream's; each entry names a request stored under its own key. While
 * queued, the request's target, headers (the merchant's credentials) and body (card data) are
 * kept only sealed with the queue key (AES-256-GCM), which is never in Redis; without a key
 * nothing is queued (`no_key`). Once forwarded or dead-lettered, the stored item keeps only its
 * view (state, outcome or reason) for the retention time. All keys share the hash tag
 * `{paypath-queue}`, so the scripts touch one cluster slot.
 */
export class RedisForwardQueue implements ForwardQueue {
  readonly kind = 'redis' as const;
  readonly #redis: RedisClient;
  readonly #cipher: QueueCipher | undefined;
  readonly #keys: {
    stream: string;
    exposure: string;
    dead: string;
    lock: string;
    item: (id: string) => string;
  };
  /** Stream entry ids of requests returned by head(), so they can be removed by id. */
  readonly #entryIds = new Map<string, string>();

  constructor(redis: RedisClient, options: { prefix?: string; cipher?: QueueCipher } = {}) {
    this.#redis = redis;
    this.#cipher = options.cipher;
    const base = `${options.prefix ?? 'paypath:'}{paypath-queue}:`;
    this.#keys = {
      stream: `${base}stream`,
      exposure: `${base}exposure`,
      dead: `${base}dead`,
      lock: `${base}drain-lock`,
      item: (id) => `${base}item:${id}`,
    };
  }

  async enqueue(
    request: QueuedRequest,
    limits: { maxDepth: number; merchantExposureCap?: number },
  ): Promise<EnqueueResult> {
    if (!this.#cipher) return { ok: false, reason: 'no_key' };
    // In clear only what ordering, limits and GET /v1/queue/{id} need, named one by one.
    const clear: StoredRequest = {
      id: request.id,
      routeId: request.routeId,
      method: request.method,
      idempotencyKey: request.idempotencyKey,
      enqueuedAt: request.enqueuedAt,
    };
    if (request.merchant !== undefined) clear.merchant = request.merchant;
    if (request.amount !== undefined) clear.amount = request.amount;
    const item: StoredItem = {
      request: {
        ...clear,
        sealed: await this.#cipher.seal(request.id, {
          target: request.target,
          headers: request.headers,
          bodyBase64: request.bodyBase64,
        }),
      },
      view: queuedView(request),
    };
    const merchant =
      request.merchant !== undefined && limits.merchantExposureCap !== undefined
        ? request.merchant
        : '';
    const result = await this.#redis.eval(
      ENQUEUE_SCRIPT,
      3,
      this.#keys.stream,
      this.#keys.item(request.id),
      this.#keys.exposure,
      request.id,
      JSON.stringify(item),
      String(limits.maxDepth),
      merchant,
      String(request.amount ?? 0),
      String(limits.merchantExposureCap ?? 0),
    );
    if (result === 'ok') return { ok: true };
    return { ok: false, reason: result === 'exposure_cap' ? 'exposure_cap' : 'queue_full' };
  }

  async head(): Promise<QueuedRequest | undefined> {
    for (let i = 0; i < 100; i++) {
      const entries = await this.#redis.xrange(this.#keys.stream, '-', '+', 'COUNT', 1);
      const entry = entries[0];
      if (!entry) return undefined;
      const [entryId, fields] = entry;
      const id = fields[fields.indexOf('id') + 1] ?? '';
      const item = await this.#item(id);
      if (item?.request && item.view.state === 'queued') {
        this.#entryIds.set(id, entryId);
        return this.#open(item.request);
      }
      // An entry without its request (should not happen): drop it rather than block the queue.
      await this.#redis.xdel(this.#keys.stream, entryId);
    }
    return undefined;
  }

  async recordFailure(id: string, error: string): Promise<number> {
    const item = await this.#item(id);
    if (!item) return 0;
    item.view.attempts++;
    item.view.lastError = error;
    await this.#redis.set(this.#keys.item(id), JSON.stringify(item));
    return item.view.attempts;
  }

  async complete(
    request: QueuedRequest,
    outcome: QueuedOutcome,
    retentionMs: number,
  ): Promise<void> {
    await this.#finish(request, retentionMs, '', (view) => {
      view.state = 'forwarded';
      view.outcome = outcome;
    });
  }

  async deadLetter(request: QueuedRequest, reason: string, retentionMs: number): Promise<void> {
    await this.#finish(request, retentionMs, reason, (view) => {
      view.state = 'dead';
      view.reason = reason;
    });
  }

  async get(id: string): Promise<QueueEntryView | undefined> {
    return (await this.#item(id))?.view;
  }

  /** The request to forward: opened with the queue key, or marked unreadable (never sent) when it cannot be. */
  async #open(stored: StoredRequest): Promise<QueuedRequest> {
    const { sealed, target, headers, bodyBase64, ...clear } = stored;
    if (!sealed)
      return {
        ...clear,
        target: target ?? '',
        headers: headers ?? [],
        bodyBase64: bodyBase64 ?? null,
      };
    if (!this.#cipher)
      return { ...clear, target: '', headers: [], bodyBase64: null, unreadable: 'key_unknown' };
    try {
      return { ...clear, ...(await this.#cipher.open(stored.id, sealed)) };
    } catch (error) {
      if (!(error instanceof QueuePayloadError)) throw error;
      return { ...clear, target: '', headers: [], bodyBase64: null, unreadable: error.reason };
    }
  }

  async stats(now: number): Promise<QueueStats> {
    const [depth, first, dead] = await Promise.all([
      this.#redis.xlen(this.#keys.stream),
      this.#redis.xrange(this.#keys.stream, '-', '+', 'COUNT', 1),
      this.#redis.xlen(this.#keys.dead),
    ]);
    const oldestId = first[0]?.[1][1];
    const oldest = oldestId ? await this.#item(oldestId) : undefined;
    return {
      kind: 'redis',
      durable: true,
      depth,
      oldestAgeMs: oldest ? Math.max(0, now - oldest.view.enqueuedAt) : null,
      deadLettered: dead,
      encrypted: this.#cipher !== undefined,
      keyId: this.#cipher?.keyId ?? null,
    };
  }

  async acquireDrainLock(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.eval(LOCK_SCRIPT, 1, this.#keys.lock, owner, String(ttlMs))) === 1;
  }

  async releaseDrainLock(owner: string): Promise<void> {
    await this.#redis.eval(UNLOCK_SCRIPT, 1, this.#keys.lock, owner);
  }

  async #item(id: string): Promise<StoredItem | undefined> {
    const raw = await this.#redis.get(this.#keys.item(id));
    return raw ? (JSON.parse(raw) as StoredItem) : undefined;
  }

  async #finish(
    request: QueuedRequest,
    retentionMs: number,
    reason: string,
    update: (view: QueueEntryView) => void,
  ): Promise<void> {
    const stored = await this.#item(request.id);
    // The view alone is kept: the sealed target, headers and body go in the same script that removes the entry.
    const item: StoredItem = {
      view: stored?.view ?? queuedView(request),
    };
    update(item.view);
    item.view.finishedAt = Date.now();
    const entryId = this.#entryIds.get(request.id) ?? (await this.#findEntry(request.id)) ?? '0-0';
    this.#entryIds.delete(request.id);
    await this.#redis.eval(
      FINISH_SCRIPT,
      4,
      this.#keys.stream,
      this.#keys.item(request.id),
      this.#keys.exposure,
      this.#keys.dead,
      entryId,
      JSON.stringify(item),
      String(retentionMs),
      request.merchant ?? '',
      String(request.amount ?? 0),
      reason,
      request.id,
    );
  }

  async #findEntry(id: string): Promise<string | undefined> {
    const entries = await this.#redis.xrange(this.#keys.stream, '-', '+', 'COUNT', 1000);
    return entries.find(([, fields]) => fields[1] === id)?.[0];
  }
}
