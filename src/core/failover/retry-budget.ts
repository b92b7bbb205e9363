import { once } from '../once.ts';

/**
 * Envoy-style retry budget: at any moment, requests re-sending in a way that could add load to a
 * struggling processor may be at most `percent` of the requests in progress, or `minConcurrent`,
 * whichever is more (one slot per request, however many paths it tries). Those are re-sends after
 * a 5xx/429, and after a timeout while no other path has answered lately (the processor may be the
 * slow part). Failing over an attempt that sent nothing, or one that timed out on a path while
 * other paths answer (a cut carrier), is never limited: refusing those would fail payments that a
 * live path can carry.
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
    return once(() => this.#active--);
  }

  /** A slot for one re-send, held until `release`; undefined when the budget is spent. */
  acquire(): (() => void) | undefined {
    const allowed = Math.max(
      this.#config.minConcurrent,
      Math.floor((this.#active * this.#config.percent) / 100),
    );
    if (this.#retrying >= allowed) {
      this.refused++;
      return undefined;
    }
    this.#retrying++;
    return once(() => this.#retrying--);
  }
}
