import type {
  EnqueueResult,
  ForwardQueue,
  QueueEntryView,
  QueuedOutcome,
  QueuedRequest,
  QueueStats,
} from './forward-queue.ts';
import { queuedView } from './forward-queue.ts';

/** Only the view: the request itself (headers, body) is held in #pending while queued, and nowhere after. */
interface MemoryEntry {
  view: QueueEntryView;
  expiresAt?: number;
}

/** The queue of one instance, in memory: not durable (a restart loses it), which /status says. */
export class MemoryForwardQueue implements ForwardQueue {
  readonly kind = 'memory' as const;
  readonly #pending: QueuedRequest[] = [];
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #exposure = new Map<string, number>();
  readonly #now: () => number;
  #deadLettered = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async enqueue(
    request: QueuedRequest,
    limits: { maxDepth: number; merchantExposureCap?: number },
  ): Promise<EnqueueResult> {
    if (this.#pending.length >= limits.maxDepth) return { ok: false, reason: 'queue_full' };
    if (request.merchant !== undefined && limits.merchantExposureCap !== undefined) {
      const exposure = (this.#exposure.get(request.merchant) ?? 0) + (request.amount ?? 0);
      if (exposure > limits.merchantExposureCap) return { ok: false, reason: 'exposure_cap' };
      this.#exposure.set(request.merchant, exposure);
    }
    this.#pending.push(request);
    this.#entries.set(request.id, {
      view: queuedView(request),
    });
    return { ok: true };
  }

  async head(): Promise<QueuedRequest | undefined> {
    return this.#pending[0];
  }

  async recordFailure(id: string, error: string): Promise<number> {
    const entry = this.#entries.get(id);
    if (!entry) return 0;
    entry.view.attempts++;
    entry.view.lastError = error;
    return entry.view.attempts;
  }

  async complete(
    request: QueuedRequest,
    outcome: QueuedOutcome,
    retentionMs: number,
  ): Promise<void> {
    this.#finish(request, retentionMs, (view) => {
      view.state = 'forwarded';
      view.outcome = outcome;
    });
  }

  async deadLetter(request: QueuedRequest, reason: string, retentionMs: number): Promise<void> {
    this.#deadLettered++;
    this.#finish(request, retentionMs, (view) => {
      view.state = 'dead';
      view.reason = reason;
    });
  }

  async get(id: string): Promise<QueueEntryView | undefined> {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#entries.delete(id);
      return undefined;
    }
    return structuredClone(entry.view);
  }

  async stats(now: number): Promise<QueueStats> {
    const oldest = this.#pending[0];
    return {
      kind: 'memory',
      durable: false,
      depth: this.#pending.length,
      oldestAgeMs: oldest ? Math.max(0, now - oldest.enqueuedAt) : null,
      deadLettered: this.#deadLettered,
    };
  }

  async acquireDrainLock(): Promise<boolean> {
    return true;
  }

  async releaseDrainLock(): Promise<void> {}

  #finish(
    request: QueuedRequest,
    retentionMs: number,
    update: (view: QueueEntryView) => void,
  ): void {
    const index = this.#pending.findIndex((r) => r.id === request.id);
    if (index >= 0) this.#pending.splice(index, 1);
    if (request.merchant !== undefined && request.amount !== undefined) {
      const left = (this.#exposure.get(request.merchant) ?? 0) - request.amount;
      if (left > 0) this.#exposure.set(request.merchant, left);
      else this.#exposure.delete(request.merchant);
    }
    const entry = this.#entries.get(request.id);
    if (!entry) return;
    update(entry.view);
    entry.view.finishedAt = this.#now();
    entry.expiresAt = this.#now() + retentionMs;
    // Keep memory bounded: drop finished entries past their retention.
    for (const [id, e] of this.#entries)
      if (e.expiresAt !== undefined && e.expiresAt <= this.#now()) this.#entries.delete(id);
  }
}
