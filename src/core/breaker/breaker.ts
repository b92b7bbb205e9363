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

/**
 * How a failed call counts against its path (attribute() in attribution.ts decides which):
 * - `link`: the path's link failed (no connection, no answer): counts in the failure share and in
 *   the run of consecutive failures;
 * - `other`: a failure that says nothing about the link (a 5xx/429 answer came back over it; an
 *   error the transport could not classify): counts in the share and ends the run;
 * - `excused`: not the path's fault: counts as a success in the share and leaves the run as it is.
 */
export type FailureKind = 'link' | 'other' | 'excused';

/** What a finished call means for its path's breaker. */
export type Charge = 'success' | FailureKind;

export interface IBreaker {
  readonly state: BreakerState;
  /** True when a call would be admitted now: closed, or half-open with its single trial slot free. */
  readonly isAvailable: boolean;
  /**
   * Runs `fn` as one call through the breaker. Rejects with `BreakerOpenError` when not admitted;
   * while `fn` runs, a half-open breaker admits no other call. `chargeOf` says what `fn`'s result
   * means for the path (default: a success); a rejection of `fn` is a `link` failure.
   */
  execute<T>(fn: () => Promise<T>, chargeOf?: (result: T) => Charge): Promise<T>;
  /** Records a call made outside `execute` that succeeded; ignored unless a call would be admitted now. */
  recordSuccess(): void;
  /**
   * Records a call made outside `execute` that failed (a connect that lost a hedge race, a timeout
   * charged once another path answered); ignored unless a call would be admitted now.
   */
  recordFailure(kind: FailureKind): void;
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
