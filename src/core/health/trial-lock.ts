import type { HealthStore } from './health-store.ts';

/**
 * With shared health state, the lock that lets one instance at a time trial an open path: a
 * half-open breaker's trial payment, or a passing probe that would close the path. One expiry for
 * both: twice the probe interval or timeout, whichever is longer, and at least a second.
 */
export class TrialLock {
  readonly ms: number;
  readonly #store: HealthStore;
  readonly #instanceId: string;

  constructor(
    store: HealthStore,
    instanceId: string,
    probe: { intervalMs: number; timeoutMs: number },
  ) {
    this.#store = store;
    this.#instanceId = instanceId;
    this.ms = Math.max(probe.intervalMs * 2, probe.timeoutMs * 2, 1_000);
  }

  /** True when this instance holds the lock for the path now. */
  acquire(pathId: string): Promise<boolean> {
    return this.#store.acquireTrial(pathId, this.#instanceId, this.ms);
  }
}
