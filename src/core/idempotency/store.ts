/** A completed answer kept for replay: status, chosen headers and the body, byte for byte (base64). */
export interface StoredAnswer {
  status: number;
  headers: [string, string][];
  bodyBase64: string;
  /**
   * Set when the answer was too large to keep: only its outcome is recorded (status, headers, an
   * empty body), so a retry with the key is refused rather than sent to the processor again.
   */
  notKept?: 'too_large';
}

export type ClaimResult =
  /** The key is ours until complete() or release() with this token (or until the claim expires). */
  | { kind: 'claimed'; token: string }
  /** Another request with this key is being processed now. */
  | { kind: 'in_flight' }
  /** The key was used for a different request (method, path and query, or body); `fingerprint` is the one stored with it. */
  | { kind: 'mismatch'; fingerprint: string }
  /** The key's request completed earlier: replay this. */
  | { kind: 'completed'; answer: StoredAnswer };

/**
 * Where idempotency records live: in memory (one instance) or Redis (shared). A claim is taken
 * atomically with the request's fingerprint and released or completed only by its owner's token.
 * Implementations may throw when their backing store is unreachable. The Node runtime backs the
 * Redis store with memory (FallbackIdempotencyStore), which does not; given a store that throws,
 * the idempotency middleware forwards without a claim rather than stop the payment.
 */
export interface IdempotencyStore {
  readonly kind: 'memory' | 'redis';
  /** Largest answer body this store keeps, in bytes, when it is smaller than the policy's idempotencyStore.maxAnswerBytes. */
  readonly maxAnswerBytes?: number;
  claim(key: string, fingerprint: string, claimTtlMs: number): Promise<ClaimResult>;
  /** Replaces our claim with the final answer, kept for `ttlMs`. False when the claim was no longer ours. */
  complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<boolean>;
  /** Deletes our claim (compare-and-delete by token), so a retry asks the processor again. */
  release(key: string, token: string): Promise<boolean>;
  close?(): Promise<void>;
}
