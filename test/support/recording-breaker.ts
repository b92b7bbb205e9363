import { BreakerOpenError, type BreakerState, type IBreaker } from '../../src/core/breaker/breaker.ts';

/**
 * A breaker for engine unit tests: no rolling window, no timers; it records what a real one would
 * count. Like opossum with paypath's errorFilter, errors marked `countsAgainstPath === false` are
 * excused rather than counted. `trip()`/`reset()` set the state by hand.
 */
export class RecordingBreaker implements IBreaker {
  state: BreakerState = 'closed';
  counted = 0;
  excused = 0;

  get isAvailable(): boolean {
    return this.state === 'closed';
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.isAvailable) throw new BreakerOpenError(this.state);
    try {
      return await fn();
    } catch (error) {
      if ((error as { countsAgainstPath?: boolean }).countsAgainstPath === false) this.excused++;
      else this.counted++;
      throw error;
    }
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
