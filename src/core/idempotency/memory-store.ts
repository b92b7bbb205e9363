import type { ClaimResult, IdempotencyStore, StoredAnswer } from './store.ts';

type MemoryRecord =
  | { state: 'in_flight'; fingerprint: string; token: string; expiresAt: number }
  | { state: 'completed'; fingerprint: string; answer: StoredAnswer; expiresAt: number };

/** Idempotency records of one instance, in a Map with lazy expiry (swept every `sweepEvery` claims). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly kind = 'memory' as const;
  readonly #records = new Map<string, MemoryRecord>();
  readonly #now: () => number;
  #claimsSinceSweep = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
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
    this.#records.set(key, { state: 'in_flight', fingerprint, token, expiresAt: now + claimTtlMs });
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

  #sweep(): void {
    this.#claimsSinceSweep = 0;
    const now = this.#now();
    for (const [key, record] of this.#records) if (record.expiresAt <= now) this.#records.delete(key);
  }
}
