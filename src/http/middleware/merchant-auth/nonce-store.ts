/** Remembers nonces of accepted signatures so a captured request cannot be sent again. */
export interface NonceStore {
  /** True when the nonce is new (and now remembered for `ttlMs`); false when it was already used. */
  claim(merchantId: string, nonce: string, ttlMs: number): Promise<boolean>;
}

/**
 * Nonces in this process's memory, forgotten when their timestamp window has passed. Bounded:
 * only signed requests reach it (one entry per accepted request), and expired entries are swept.
 */
export class MemoryNonceStore implements NonceStore {
  readonly #expiresAt = new Map<string, number>();
  readonly #now: () => number;
  #nextSweep = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  claim(merchantId: string, nonce: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    this.#sweep(now);
    const key = `${merchantId}\n${nonce}`;
    const expires = this.#expiresAt.get(key);
    if (expires !== undefined && expires > now) return Promise.resolve(false);
    this.#expiresAt.set(key, now + ttlMs);
    return Promise.resolve(true);
  }

  get size(): number {
    return this.#expiresAt.size;
  }

  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1_000;
    for (const [key, expires] of this.#expiresAt) if (expires <= now) this.#expiresAt.delete(key);
  }
}
