import type { Logger } from '../../../core/logger.ts';

/**
 * After a Redis command fails, skip Redis for a short while and use local state instead, so a
 * hung or dead Redis costs at most one command timeout per window, not one per request.
 */
export class DegradedWindow {
  readonly #what: string;
  readonly #logger: Logger;
  readonly #skipMs: number;
  #skipUntil = 0;
  #degraded = false;

  constructor(what: string, logger: Logger, skipMs = 1_000) {
    this.#what = what;
    this.#logger = logger;
    this.#skipMs = skipMs;
  }

  get skipping(): boolean {
    return Date.now() < this.#skipUntil;
  }

  failed(error: unknown): void {
    this.#skipUntil = Date.now() + this.#skipMs;
    if (!this.#degraded) {
      this.#degraded = true;
      this.#logger.warn(
        { event: 'redis_degraded', store: this.#what, reason: (error as Error).message },
        `${this.#what}: Redis unavailable, using local state`,
      );
    }
  }

  succeeded(): void {
    if (this.#degraded) {
      this.#degraded = false;
      this.#logger.info(
        { event: 'redis_recovered', store: this.#what },
        `${this.#what}: Redis is back`,
      );
    }
  }
}
