import type { BreakerState, BreakerTransition, Disposable } from './breaker.ts';
import { once } from '../once.ts';

/**
 * What every IBreaker keeps beside its own failure counting: isolation handles (a forced-open
 * state held until each handle is released) and the transition feed, which tells listeners of
 * each change of state once, with its reason.
 */
export class BreakerBookkeeping {
  readonly #listeners = new Set<(t: BreakerTransition) => void>();
  readonly #now: () => number;
  #isolations = 0;
  #last: BreakerState = 'closed';

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  get isolated(): boolean {
    return this.#isolations > 0;
  }

  /** The state listeners last heard of. */
  get last(): BreakerState {
    return this.#last;
  }

  /** Records the state in force now; listeners hear only of a change. */
  report(to: BreakerState, reason: string): void {
    if (to === this.#last) return;
    const transition: BreakerTransition = { from: this.#last, to, at: this.#now(), reason };
    this.#last = to;
    for (const listener of this.#listeners) listener(transition);
  }

  /** Holds the breaker isolated until the handle is disposed; `state` gives the state to report. */
  isolate(state: () => BreakerState): Disposable {
    this.#isolations++;
    this.report(state(), 'isolated');
    return {
      dispose: once(() => {
        this.#isolations--;
        this.report(state(), 'isolation-ended');
      }),
    };
  }

  onStateChange(listener: (t: BreakerTransition) => void): Disposable {
    this.#listeners.add(listener);
    return { dispose: () => this.#listeners.delete(listener) };
  }

  dispose(): void {
    this.#listeners.clear();
  }
}
