/**
 * A byte semaphore: bounds the bytes that all holders keep at once (request bodies buffered in
 * memory). Each take names the ceiling it may fill the budget up to, so part of the budget can be
 * kept for small takes: `take` waits until the bytes fit under its ceiling or the wait is given up;
 * `give` returns bytes and wakes every waiter that now fits. Not first come first served on
 * purpose: a small take that fits never waits behind a large one that does not. The capacity is
 * read on every take, so a new policy's value applies to the next request.
 */
export class ByteBudget {
  readonly #capacity: () => number;
  readonly #waiters = new Set<{
    bytes: number;
    ceiling: number;
    resolve: (taken: boolean) => void;
  }>();
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
    return this.#waiters.size;
  }

  /** Takes `bytes` at once when the budget stays within `ceiling` (default: the capacity); false otherwise. */
  tryTake(bytes: number, ceiling = this.#capacity()): boolean {
    if (this.#used + bytes > Math.min(ceiling, this.#capacity())) return false;
    this.#used += bytes;
    return true;
  }

  /**
   * Takes `bytes`, waiting up to `waitMs` for the budget to have room for them under `ceiling`.
   * Resolves false when they did not fit in time, or at once when they never could.
   */
  take(bytes: number, waitMs: number, ceiling = this.#capacity()): Promise<boolean> {
    if (this.tryTake(bytes, ceiling)) return Promise.resolve(true);
    if (bytes > Math.min(ceiling, this.#capacity()) || waitMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        bytes,
        ceiling,
        resolve: (taken: boolean) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(taken);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), waitMs);
      this.#waiters.add(waiter);
    });
  }

  give(bytes: number): void {
    if (bytes <= 0) return;
    this.#used = Math.max(0, this.#used - bytes);
    for (const waiter of this.#waiters) {
      if (this.tryTake(waiter.bytes, waiter.ceiling)) waiter.resolve(true);
    }
  }
}
