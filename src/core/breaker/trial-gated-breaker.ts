import {
  BreakerOpenError,
  type BreakerTransition,
  type Charge,
  type Disposable,
  type FailureKind,
  type IBreaker,
} from './breaker.ts';

/**
 * Wraps a path's breaker when several instances share health state: only one instance at a time
 * runs the half-open trial of a path. When the inner breaker goes half-open, this one asks for the
 * trial lock (asynchronously; nothing waits for it) and admits the trial only once it holds it.
 * Meanwhile, or when another instance holds it, the path counts as unavailable and payments go
 * elsewhere; that instance's result (a shared close or re-open) is applied here. When the lock
 * cannot be had because the store is down, `acquire` says yes: the local breaker is authoritative.
 */
export class TrialGatedBreaker implements IBreaker {
  readonly #inner: IBreaker;
  readonly #acquire: () => Promise<boolean>;
  readonly #retryMs: number;
  #gate: 'none' | 'pending' | 'mine' | 'blocked' = 'none';
  #retry: ReturnType<typeof setTimeout> | undefined;
  readonly #subscription: Disposable;

  constructor(inner: IBreaker, acquire: () => Promise<boolean>, retryMs: number) {
    this.#inner = inner;
    this.#acquire = acquire;
    this.#retryMs = retryMs;
    this.#subscription = inner.onStateChange((t) => {
      clearTimeout(this.#retry);
      if (t.to === 'half-open') this.#requestTrial();
      else this.#gate = 'none';
    });
  }

  get state() {
    return this.#inner.state;
  }

  get isAvailable(): boolean {
    if (!this.#inner.isAvailable) return false;
    return this.#inner.state !== 'half-open' || this.#gate === 'mine';
  }

  execute<T>(fn: () => Promise<T>, chargeOf?: (result: T) => Charge): Promise<T> {
    if (!this.isAvailable) return Promise.reject(new BreakerOpenError(this.state));
    return this.#inner.execute(fn, chargeOf);
  }

  recordSuccess(): void {
    if (this.isAvailable) this.#inner.recordSuccess();
  }

  recordFailure(kind: FailureKind): void {
    if (this.isAvailable) this.#inner.recordFailure(kind);
  }

  isolate(): Disposable {
    return this.#inner.isolate();
  }

  trip(reason: string): void {
    this.#inner.trip(reason);
  }

  reset(reason: string): void {
    this.#inner.reset(reason);
  }

  onStateChange(listener: (transition: BreakerTransition) => void): Disposable {
    return this.#inner.onStateChange(listener);
  }

  dispose(): void {
    clearTimeout(this.#retry);
    this.#subscription.dispose();
    this.#inner.dispose();
  }

  #requestTrial(): void {
    this.#gate = 'pending';
    void this.#acquire().then(
      (mine) => this.#settle(mine),
      () => this.#settle(true),
    );
  }

  #settle(mine: boolean): void {
    if (this.#inner.state !== 'half-open' || this.#gate !== 'pending') return;
    this.#gate = mine ? 'mine' : 'blocked';
    if (!mine) {
      // The other instance's verdict normally arrives first; if its lock expires without one, try again.
      this.#retry = setTimeout(() => {
        if (this.#inner.state === 'half-open') this.#requestTrial();
      }, this.#retryMs);
      (this.#retry as { unref?: () => void }).unref?.();
    }
  }
}
