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
  /**
   * Set by a queue that keeps payloads sealed when this one cannot be opened here: `key_unknown`
   * (sealed with a queue key this instance was not given) or `corrupt`. target, headers and body
   * are then empty, and the request must not be sent.
   */
  unreadable?: 'key_unknown' | 'corrupt';
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

/** The view of a request just queued, before any forwarding attempt. */
export function queuedView(request: QueuedRequest): QueueEntryView {
  return {
    id: request.id,
    routeId: request.routeId,
    state: 'queued',
    idempotencyKey: request.idempotencyKey,
    enqueuedAt: request.enqueuedAt,
    attempts: 0,
  };
}

export interface QueueStats {
  kind: 'memory' | 'redis';
  durable: boolean;
  depth: number;
  oldestAgeMs: number | null;
  deadLettered: number;
  /** Redis only: payloads are kept sealed (AES-256-GCM), and the id of the key that seals new ones. */
  encrypted?: boolean;
  keyId?: string | null;
}

/** `no_key`: the queue keeps requests outside the process only encrypted, and has no key to seal with. */
export type EnqueueResult =
  { ok: true } | { ok: false; reason: 'queue_full' | 'exposure_cap' | 'no_key' };

/**
 * The store-and-forward queue: FIFO, in memory (one instance, lost on restart) or in Redis
 * Streams (durable, shared). enqueue() checks the depth limit and the merchant's exposure cap
 * atomically with the append, so concurrent requests cannot overshoot a cap together.
 * A request leaves the queue with complete() or deadLetter(): from then on only its view (state,
 * outcome or reason) is kept; its target, headers and body are gone.
 */
export interface ForwardQueue {
  readonly kind: 'memory' | 'redis';
  enqueue(
    request: QueuedRequest,
    limits: { maxDepth: number; merchantExposureCap?: number },
  ): Promise<EnqueueResult>;
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
