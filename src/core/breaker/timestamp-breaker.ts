import type { BreakerConfig } from '../policy/schema.ts';
import { BreakerBookkeeping } from './breaker-bookkeeping.ts';
import { ConsecutiveFailures } from './consecutive-failures.ts';
import {
  BreakerOpenError,
  type BreakerState,
  type BreakerTransition,
  type Charge,
  type Disposable,
  type FailureKind,
  type IBreaker,
} from './breaker.ts';

const BUCKETS = 10;

interface Bucket {
  start: number;
  successes: number;
  failures: number;
}

/**
 * A breaker that keeps no timers: its state is computed from timestamps when read. Open becomes
 * half-open when `resetTimeoutMs` has passed since it opened; the rolling window is a set of
 * time buckets pruned on use. Made for runtimes whose timers do not outlive a request (Cloudflare
 * Workers cancel an opossum breaker's reset timer, leaving it open for ever); same rules as opossum.
 */
export class TimestampBreaker implements IBreaker {
  readonly #config: BreakerConfig;
  readonly #now: () => number;
  readonly #book: BreakerBookkeeping;
  readonly #run: ConsecutiveFailures;
  #buckets: Bucket[] = [];
  #openedAt: number | null = null;
  #trialInFlight = false;

  constructor(config: BreakerConfig, options: { now?: () => number } = {}) {
    this.#config = config;
    this.#now = options.now ?? Date.now;
    this.#book = new BreakerBookkeeping({ now: this.#now });
    this.#run = new ConsecutiveFailures(config.consecutiveFailures);
  }

  get state(): BreakerState {
    const state = this.#computeState();
    if (state !== this.#book.last)
      this.#book.report(state, state === 'half-open' ? 'reset-timeout' : 'computed');
    return state;
  }

  get isAvailable(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.#trialInFlight);
  }

  async execute<T>(
    fn: () => Promise<T>,
    chargeOf: (result: T) => Charge = () => 'success',
  ): Promise<T> {
    if (!this.isAvailable) throw new BreakerOpenError(this.state);
    const trial = this.state === 'half-open';
    if (trial) this.#trialInFlight = true;
    let charge: Charge = 'link';
    try {
      const result = await fn();
      charge = chargeOf(result);
      return result;
    } finally {
      this.#settle(charge, trial);
      if (trial) this.#trialInFlight = false;
    }
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
    return this.#book.isolate(() => this.#computeState());
  }

  trip(reason: string): void {
    this.#open(reason);
  }

  reset(reason: string): void {
    this.#close(reason);
  }

  onStateChange(listener: (t: BreakerTransition) => void): Disposable {
    return this.#book.onStateChange(listener);
  }

  dispose(): void {
    this.#book.dispose();
  }

  #computeState(): BreakerState {
    if (this.#book.isolated) return 'isolated';
    if (this.#openedAt === null) return 'closed';
    return this.#now() - this.#openedAt >= this.#config.resetTimeoutMs ? 'half-open' : 'open';
  }

  #settle(charge: Charge, trial: boolean): void {
    if (trial) {
      if (charge === 'success') this.#close('trial-succeeded');
      else this.#open('trial-failed');
    } else if (this.#run.record(charge) && this.#openedAt === null) {
      this.#open('consecutive-failures');
    } else {
      this.#record(charge === 'success' || charge === 'excused'); // excused: a success, as opossum's errorFilter makes it
    }
  }

  #record(success: boolean): void {
    this.#prune();
    const now = this.#now();
    const width = this.#config.windowMs / BUCKETS;
    let bucket = this.#buckets.at(-1);
    if (!bucket || now - bucket.start >= width) {
      bucket = { start: now, successes: 0, failures: 0 };
      this.#buckets.push(bucket);
    }
    if (success) bucket.successes++;
    else bucket.failures++;
    if (success || this.#openedAt !== null) return;
    let failures = 0;
    let total = 0;
    for (const b of this.#buckets) {
      failures += b.failures;
      total += b.successes + b.failures;
    }
    if (
      total >= this.#config.volumeThreshold &&
      (failures / total) * 100 > this.#config.errorThresholdPercentage
    )
      this.#open('failures');
  }

  #prune(): void {
    const oldest = this.#now() - this.#config.windowMs;
    this.#buckets = this.#buckets.filter((b) => b.start > oldest);
  }

  #open(reason: string): void {
    this.#openedAt = this.#now();
    this.#book.report(this.#computeState(), reason);
  }

  #close(reason: string): void {
    this.#openedAt = null;
    this.#run.reset();
    this.#buckets = [];
    this.#book.report(this.#computeState(), reason);
  }
}
