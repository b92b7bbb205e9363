import CircuitBreaker from 'opossum';
import type { BreakerConfig } from '../policy/schema.ts';
import { BreakerOpenError, type BreakerState, type BreakerTransition, type Disposable, type IBreaker } from './breaker.ts';

type Thunk = () => Promise<unknown>;

/**
 * IBreaker over opossum. opossum counts failures in a rolling window and runs the reset timer;
 * this wrapper adds isolation (a forced-open state opossum lacks), typed transitions and a
 * reason for each transition. opossum's own timeout is off: the failover engine owns timeouts.
 */
export class OpossumBreaker implements IBreaker {
  readonly #circuit: CircuitBreaker<[Thunk], unknown>;
  readonly #listeners = new Set<(t: BreakerTransition) => void>();
  #isolations = 0;
  #last: BreakerState = 'closed';
  #nextReason: string | undefined;

  constructor(config: BreakerConfig) {
    this.#circuit = new CircuitBreaker<[Thunk], unknown>((fn: Thunk) => fn(), {
      timeout: false,
      errorThresholdPercentage: config.errorThresholdPercentage,
      volumeThreshold: config.volumeThreshold,
      resetTimeout: config.resetTimeoutMs,
      rollingCountTimeout: config.windowMs,
      rollingCountBuckets: 10,
      // Failures marked as not the path's fault (AttemptError.countsAgainstPath === false) are not counted.
      errorFilter: (error: unknown) => (error as { countsAgainstPath?: boolean } | undefined)?.countsAgainstPath === false,
    });
    this.#circuit.on('open', () => this.#emit('failures'));
    this.#circuit.on('halfOpen', () => this.#emit('reset-timeout'));
    this.#circuit.on('close', () => this.#emit('trial-succeeded'));
  }

  get state(): BreakerState {
    if (this.#isolations > 0) return 'isolated';
    if (this.#circuit.opened) return 'open';
    if (this.#circuit.halfOpen) return 'half-open';
    return 'closed';
  }

  get isAvailable(): boolean {
    return this.#isolations === 0 && (this.#circuit.closed || this.#circuit.pendingClose);
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.isAvailable) throw new BreakerOpenError(this.state);
    try {
      return (await this.#circuit.fire(fn)) as T;
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER') throw new BreakerOpenError(this.state);
      throw error;
    }
  }

  isolate(): Disposable {
    this.#isolations++;
    this.#emit('isolated');
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.#isolations--;
        this.#emit('isolation-ended');
      },
    };
  }

  trip(reason: string): void {
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
    this.#listeners.add(listener);
    return { dispose: () => this.#listeners.delete(listener) };
  }

  dispose(): void {
    this.#circuit.shutdown();
    this.#listeners.clear();
  }

  #emit(defaultReason: string): void {
    const to = this.state;
    if (to === this.#last) return;
    const transition: BreakerTransition = { from: this.#last, to, at: Date.now(), reason: this.#nextReason ?? defaultReason };
    this.#last = to;
    for (const listener of this.#listeners) listener(transition);
  }
}
