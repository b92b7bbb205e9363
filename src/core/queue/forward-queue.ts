/** A request accepted with 202 while no path could carry it, waiting to be forwarded. */
export interface QueuedRequest {
  /** `q_` + a random UUID; the client reads the outcome at GET /v1/queue/{id}. */
  id: string;
  routeId: string;
  method: string;
  target: string;
  /** Upstream headers (hop-by-hop removed), including the idempotency key. */
  headers: [string, string][];
  bodyBase64: string | null;
  idempotencyKey: string;
  /** Payments only: who the amount counts against, and the amount in minor units. */
  merchant?: string;
  amount?: number;
  enqueuedAt: number;
}

export interface QueuedOutcome {
  status: number;
  headers: [string, string][];
  bodyBase64: string;
}

export type QueueEntryState = 'queued' | 'forwarded' | 'dead';

/** What GET /v1/queue/{id} shows. */
export interface QueueEntryView {
  id: string;
  routeId: string;
  state: QueueEntryState;
  idempotencyKey: string;
  enqueuedAt: number;
  attempts: number;
  lastError?: string;
  finishedAt?: number;
  outcome?: QueuedOutcome;
  /** Why it was dead-lettered. */
  reason?: string;
}

export interface QueueStats {
  kind: 'memory' | 'redis';
  durable: boolean;
  depth: number;
  oldestAgeMs: number | null;
  deadLettered: number;
}

export type EnqueueResult = { ok: true } | { ok: false; reason: 'queue_full' | 'exposure_cap' };

/**
 * The store-and-forward queue: FIFO, in memory (one instance, lost on restart) or in Redis
 * Streams (durable, shared). enqueue() checks the depth limit and the merchant's exposure cap
 * atomically with the append, so concurrent requests cannot overshoot a cap together.
 */
export interface ForwardQueue {
  readonly kind: 'memory' | 'redis';
  enqueue(request: QueuedRequest, limits: { maxDepth: number; merchantExposureCap?: number }): Promise<EnqueueResult>;
  /** The oldest queued request, or undefined when the queue is empty. */
  head(): Promise<QueuedRequest | undefined>;
  /** Counts a failed forwarding attempt; returns the attempts so far. */
  recordFailure(id: string, error: string): Promise<number>;
  /** Removes the request from the queue with its final outcome (kept `retentionMs` for GET). */
  complete(request: QueuedRequest, outcome: QueuedOutcome, retentionMs: number): Promise<void>;
  /** Removes the request from the queue into the dead letters, with the reason. */
  deadLetter(request: QueuedRequest, reason: string, retentionMs: number): Promise<void>;
  get(id: string): Promise<QueueEntryView | undefined>;
  stats(now: number): Promise<QueueStats>;
  /** Only one instance drains at a time, so order holds. True when this caller holds the drain lock (taken, or extended when already its own). */
  acquireDrainLock(owner: string, ttlMs: number): Promise<boolean>;
  releaseDrainLock(owner: string): Promise<void>;
}
