import CircuitBreaker from 'opossum';
import type { BreakerConfig } from '../../core/policy/schema.ts';
import { BreakerBookkeeping } from '../../core/breaker/breaker-bookkeeping.ts';
import { ConsecutiveFailures } from '../../core/breaker/consecutive-failures.ts';
import {
  BreakerOpenError,
  type BreakerState,
  type BreakerTransition,
  type Charge,
  type Disposable,
  type FailureKind,
  type IBreaker,
} from '../../core/breaker/breaker.ts';

type Thunk = () => Promise<unknown>;

/** Carries a failure that `chargeOf` found in a call's result through opossum, which counts only rejections. */
class ChargedFailure extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind) {
    super(`charged as ${kind}`);
    this.kind = kind;
  }
}

/**
 * IBreaker over opossum. opossum counts failures in a rolling window and runs the reset timer;
 * this wrapper adds isolation (a forced-open state opossum lacks), typed transitions and a
 * reason for each transition. opossum's own timeout is off: the failover engine owns timeouts.
 */
export class OpossumBreaker implements IBreaker {
  readonly #circuit: CircuitBreaker<[Thunk], unknown>;
  readonly #book = new BreakerBookkeeping();
  readonly #run: ConsecutiveFailures;
  #nextReason: string | undefined;
  #restarting = false;

  constructor(config: BreakerConfig) {
    this.#run = new ConsecutiveFailures(config.consecutiveFailures);
    this.#circuit = new CircuitBreaker<[Thunk], unknown>((fn: Thunk) => fn(), {
      timeout: false,
      errorThresholdPercentage: config.errorThresholdPercentage,
      volumeThreshold: config.volumeThreshold,
      resetTimeout: config.resetTimeoutMs,
      rollingCountTimeout: config.windowMs,
      rollingCountBuckets: 10,
      // opossum would keep every call's latency and sort the whole window on each failure (seen in
      // profiles as the gateway's main cost during a cut); paths keep their own latency window.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // Failures excused as not the path's fault are not counted (opossum then counts a success).
      errorFilter: (error: unknown) => error instanceof ChargedFailure && error.kind === 'excused',
    });
    this.#circuit.on('open', () => this.#emit('failures'));
    this.#circuit.on('halfOpen', () => this.#emit('reset-timeout'));
    this.#circuit.on('close', () => {
      if (this.#restarting) return;
      this.#run.reset();
      this.#emit('trial-succeeded');
    });
  }

  get state(): BreakerState {
    if (this.#book.isolated) return 'isolated';
    if (this.#circuit.opened) return 'open';
    if (this.#circuit.halfOpen) return 'half-open';
    return 'closed';
  }

  get isAvailable(): boolean {
    return !this.#book.isolated && (this.#circuit.closed || this.#circuit.pendingClose);
  }

  async execute<T>(
    fn: () => Promise<T>,
    chargeOf: (result: T) => Charge = () => 'success',
  ): Promise<T> {
    if (!this.isAvailable) throw new BreakerOpenError(this.state);
    let result!: T;
    let charge: Charge = 'link';
    try {
      await this.#circuit.fire(async () => {
        result = await fn();
        charge = chargeOf(result);
        if (charge !== 'success') throw new ChargedFailure(charge);
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER')
        throw new BreakerOpenError(this.state);
      if (this.#run.record(charge) && this.#circuit.closed) this.trip('consecutive-failures');
      if (error instanceof ChargedFailure) return result;
      throw error;
    }
    this.#run.record('success');
    return result;
  }

  recordSuccess(): void {
    void this.execute(async () => undefined).catch(() => {});
  }

  recordFailure(kind: FailureKind): void {
    void this.execute(
      async () => undefined,
      () => kind,
    ).catch(() => {});
  }

  isolate(): Disposable {
    return this.#book.isolate(() => this.state);
  }

  trip(reason: string): void {
    if (this.#circuit.opened) {
      this.#restartResetTimer();
      return;
    }
    this.#nextReason = reason;
    this.#circuit.open();
    this.#nextReason = undefined;
  }

  reset(reason: string): void {
    this.#nextReason = reason;
    this.#circuit.close();
    this.#nextReason = undefined;
  }

  onStateChange(listener: (t: BreakerTransition) => void): Disposable {
    return this.#book.onStateChange(listener);
  }

  dispose(): void {
    this.#circuit.shutdown();
    this.#book.dispose();
  }

  /**
   * opossum's open() does nothing while open, leaving the reset timer running; its close() clears
   * the timer and open() starts a new one. Listeners do not hear of the instant closed between.
   */
  #restartResetTimer(): void {
    this.#restarting = true;
    try {
      this.#circuit.close();
      this.#circuit.open();
    } finally {
      this.#restarting = false;
    }
  }

  #emit(defaultReason: string): void {
    if (this.#restarting) return;
    this.#book.report(this.state, this.#nextReason ?? defaultReason);
  }
}
