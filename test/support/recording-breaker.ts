import {
  BreakerOpenError,
  type BreakerState,
  type Charge,
  type FailureKind,
  type IBreaker,
} from '../../src/core/breaker/breaker.ts';

/**
 * A breaker for engine unit tests: no rolling window, no timers; it records what a real one would
 * count: failures charged to the path (`counted`) and failures excused as not its fault
 * (`excused`). `trip()`/`reset()` set the state by hand.
 */
export class RecordingBreaker implements IBreaker {
  state: BreakerState = 'closed';
  counted = 0;
  excused = 0;

  get isAvailable(): boolean {
    return this.state === 'closed';
  }

  async execute<T>(
    fn: () => Promise<T>,
    chargeOf: (result: T) => Charge = () => 'success',
  ): Promise<T> {
    if (!this.isAvailable) throw new BreakerOpenError(this.state);
    let charge: Charge = 'link';
    try {
      const result = await fn();
      charge = chargeOf(result);
      return result;
    } finally {
      this.#count(charge);
    }
  }

  recordSuccess(): void {}

  recordFailure(kind: FailureKind): void {
    if (this.isAvailable) this.#count(kind);
  }

  #count(charge: Charge): void {
    if (charge === 'excused') this.excused++;
    else if (charge !== 'success') this.counted++;
  }

  isolate() {
    return { dispose() {} };
  }

  trip(): void {
    this.state = 'open';
  }

  reset(): void {
    this.state = 'closed';
  }

  onStateChange() {
    return { dispose() {} };
  }

  dispose(): void {}
}
