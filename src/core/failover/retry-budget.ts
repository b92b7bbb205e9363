/**
 * Envoy-style retry budget: at any moment, requests re-sent after their bytes already reached a
 * path (a timeout after sending, a 5xx) may be at most `percent` of the requests in progress, or
 * `minConcurrent`, whichever is more. That keeps a slow or failing processor from being hit with a
 * wave of re-sends. Failing over an attempt that sent nothing (connect refused, breaker open) is
 * not a retry in this sense (it adds no load upstream) and is never limited.
 */
export interface RetryBudgetConfig {
  percent: number;
  minConcurrent: number;
}

export class RetryBudget {
  readonly #config: RetryBudgetConfig;
  #active = 0;
  #retrying = 0;
  /** Re-sends refused by the budget since start (for /status and tests). */
  refused = 0;

  constructor(config: RetryBudgetConfig) {
    this.#config = config;
  }

  get active(): number {
    return this.#active;
  }

  get retrying(): number {
    return this.#retrying;
  }

  /** Counts a request in progress; call the returned function when it ends. */
  begin(): () => void {
    this.#active++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#active--;
    };
  }

  /** A slot for one re-send, held until `release`; undefined when the budget is spent. */
  acquire(): (() => void) | undefined {
    const allowed = Math.max(this.#config.minConcurrent, Math.floor((this.#active * this.#config.percent) / 100));
    if (this.#retrying >= allowed) {
      this.refused++;
      return undefined;
    }
    this.#retrying++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#retrying--;
    };
  }
}
