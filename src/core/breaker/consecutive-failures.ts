import type { Charge } from './breaker.ts';

/**
 * Counts the path's `link` failures in a row (timeouts, resets, refused connections; not the
 * processor's 5xx answers, which show the path carrying bytes both ways: see attribution.ts). The failure-share rule
 * alone is slow at high rates: a 10 s window holds thousands of earlier successes, so a cut carrier
 * would stay closed for seconds. A run of failures opens it at once, as Envoy's consecutive
 * gateway-failure ejection does. A failure excused as not the path's fault neither counts nor
 * breaks the run.
 */
export class ConsecutiveFailures {
  readonly #limit: number;
  #run = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Records what a call meant for the path; true when the run has reached the limit. */
  record(charge: Charge): boolean {
    if (charge === 'excused') return false;
    if (charge !== 'link') {
      this.#run = 0;
      return false;
    }
    this.#run++;
    return this.#run >= this.#limit;
  }

  reset(): void {
    this.#run = 0;
  }
}
