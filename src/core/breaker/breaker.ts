/**
 * The small breaker interface the failover engine depends on. One implementation wraps opossum
 * (Node); runtimes whose timers do not outlive a request can supply another.
 */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  /** Epoch ms. */
  at: number;
  /** Why: `failures`, `trial-succeeded`, `isolated`, `probe`… */
  reason: string;
}

export interface Disposable {
  dispose(): void;
}

export interface IBreaker {
  readonly state: BreakerState;
  /** True when a call would be admitted now: closed, or half-open with its single trial slot free. */
  readonly isAvailable: boolean;
  /** Runs `fn` through the breaker. Rejects with `BreakerOpenError` when not admitted; a rejection of `fn` counts as a failure. */
  execute<T>(fn: () => Promise<T>): Promise<T>;
  /** Holds the breaker open (drills, ops) until every returned handle is disposed. */
  isolate(): Disposable;
  /** Opens the breaker now, e.g. on a failed probe or a trip learned from another instance. */
  trip(reason: string): void;
  /** Closes the breaker now, e.g. on recovery learned from another instance. */
  reset(reason: string): void;
  onStateChange(listener: (transition: BreakerTransition) => void): Disposable;
  dispose(): void;
}

export class BreakerOpenError extends Error {
  readonly code = 'breaker_open';
  readonly state: BreakerState;
  constructor(state: BreakerState) {
    super(`breaker is ${state}`);
    this.state = state;
    this.name = 'BreakerOpenError';
  }
}
