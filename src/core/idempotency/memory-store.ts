import type { ClaimResult, IdempotencyStore, StoredAnswer } from './store.ts';

type MemoryRecord =
  | { state: 'in_flight'; fingerprint: string; token: string; expiresAt: number }
  | { state: 'completed'; fingerprint: string; answer: StoredAnswer; expiresAt: number };

/** Default bound on records kept in memory (a day of traffic at ~1 payment/s, several times over). */
export const DEFAULT_MEMORY_IDEMPOTENCY_ENTRIES = 200_000;

/**
 * Idempotency records of one instance, in a Map with lazy expiry (swept every 1000 claims). Past
 * `maxEntries`, the oldest completed records are dropped early: memory stays bounded, and a retry
 * of a dropped key still goes to the processor with its key, whose de-duplication answers it.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly kind = 'memory' as const;
  readonly #records = new Map<string, MemoryRecord>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  #claimsSinceSweep = 0;

  constructor(options: { now?: () => number; maxEntries?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MEMORY_IDEMPOTENCY_ENTRIES;
  }

  get size(): number {
    return this.#records.size;
  }

  async claim(key: string, fingerprint: string, claimTtlMs: number): Promise<ClaimResult> {
    if (++this.#claimsSinceSweep >= 1_000) this.#sweep();
    const now = this.#now();
    const existing = this.#records.get(key);
    if (existing && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
      return existing.state === 'completed' ? { kind: 'completed', answer: existing.answer } : { kind: 'in_flight' };
    }
    const token = crypto.randomUUID();
    this.#records.delete(key); // re-inserted last, so Map order stays oldest first
    this.#records.set(key, { state: 'in_flight', fingerprint, token, expiresAt: now + claimTtlMs });
    if (this.#records.size > this.#maxEntries) this.#evictOldestCompleted();
    return { kind: 'claimed', token };
  }

  async complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<boolean> {
    const existing = this.#records.get(key);
    if (!existing || existing.state !== 'in_flight' || existing.token !== token) return false;
    this.#records.set(key, { state: 'completed', fingerprint: existing.fingerprint, answer, expiresAt: this.#now() + ttlMs });
    return true;
  }

  async release(key: string, token: string): Promise<boolean> {
    const existing = this.#records.get(key);
    if (!existing || existing.state !== 'in_flight' || existing.token !== token) return false;
    this.#records.delete(key);
    return true;
  }

  #evictOldestCompleted(): void {
    for (const [key, record] of this.#records) {
      if (this.#records.size <= this.#maxEntries) return;
      if (record.state === 'completed' || record.expiresAt <= this.#now()) this.#records.delete(key);
    }
  }

  #sweep(): void {
    this.#claimsSinceSweep = 0;
    const now = this.#now();
    for (const [key, record] of this.#records) if (record.expiresAt <= now) this.#records.delete(key);
  }
}
