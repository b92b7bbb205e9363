/**
 * A byte semaphore: bounds the bytes that all holders keep at once (request bodies buffered in
 * memory). `take` waits, first come first served, until the bytes fit or the wait is given up;
 * `give` returns bytes and wakes the waiters that now fit. The capacity is read on every take, so
 * a new policy's value applies to the next request.
 */
export class ByteBudget {
  readonly #capacity: () => number;
  readonly #waiters: { bytes: number; resolve: (taken: boolean) => void }[] = [];
  #used = 0;

  constructor(capacity: () => number) {
    this.#capacity = capacity;
  }

  get capacity(): number {
    return this.#capacity();
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Takes waiting for room now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes `bytes` at once when they fit and nobody waits before us; false otherwise. */
  tryTake(bytes: number): boolean {
    if (this.#waiters.length > 0 || this.#used + bytes > this.#capacity()) return false;
    this.#used += bytes;
    return true;
  }

  /**
   * Takes `bytes`, waiting up to `waitMs` for room. Resolves false when they did not fit in time,
   * or at once when they could never fit (more than the whole capacity).
   */
  take(bytes: number, waitMs: number): Promise<boolean> {
    if (this.tryTake(bytes)) return Promise.resolve(true);
    if (bytes > this.#capacity() || waitMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        bytes,
        resolve: (taken: boolean) => {
          clearTimeout(timer);
          resolve(taken);
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(false);
        // The head may have been holding back smaller takes behind it.
        this.#wake();
      }, waitMs);
      this.#waiters.push(waiter);
    });
  }

  give(bytes: number): void {
    if (bytes <= 0) return;
    this.#used = Math.max(0, this.#used - bytes);
    this.#wake();
  }

  /** In order: a large take at the head is not overtaken by smaller ones (it would starve). */
  #wake(): void {
    const capacity = this.#capacity();
    while (this.#waiters.length > 0 && this.#used + this.#waiters[0]!.bytes <= capacity) {
      const waiter = this.#waiters.shift()!;
      this.#used += waiter.bytes;
      waiter.resolve(true);
    }
  }
}
