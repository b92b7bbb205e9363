import type { Disposable } from '../breaker/breaker.ts';

/**
 * Shared breaker state. One instance's transition (a trip seen by its probes or its payments, or a
 * recovery) is written to the store and published; every other instance applies it. The in-memory
 * store is the single-instance default; the Redis store (src/adapters/node/redis) shares it.
 *
 * Rules every store keeps: nothing here is ever awaited on a payment's path; `publish` is
 * fire-and-forget; when the store cannot be reached, each instance runs on its own breakers and
 * `acquireTrial` says yes (the local breaker is authoritative), and the store resynchronises when
 * it is reachable again.
 */
export type SharedPathState = 'open' | 'closed';

export interface PathHealthEvent {
  pathId: string;
  state: SharedPathState;
  /** Why, e.g. `probe: connect_timeout`, `failures`, `trial-succeeded`. */
  reason: string;
  /** Epoch ms of the transition. */
  at: number;
  /** The instance that saw it. */
  instanceId: string;
}

/** What a store needs of the gateway it serves. */
export interface HealthStoreMember {
  instanceId: string;
  /** Instances that must report a path failing before its opening is shared (breaker.quorum). */
  quorum: number;
  /** How long a failing report counts towards the quorum, in ms. */
  reportTtlMs: number;
  /** The last transition this instance made or applied per path, for resynchronisation. */
  localStates(): PathHealthEvent[];
  /** Applies another instance's transition to the local breaker. */
  apply(event: PathHealthEvent): void;
}

export interface HealthStore extends Disposable {
  /** True when other instances share this store (then half-open trials need the lock). */
  readonly shared: boolean;
  /** Connects the store to one gateway. Returns a handle that detaches it. */
  join(member: HealthStoreMember): Disposable;
  /** Records a local transition and shares it (an `open` only once the quorum reports it). Never throws, never blocks. */
  publish(event: PathHealthEvent): void;
  /**
   * The half-open trial lock of a path, with expiry. Resolves true when this instance may run the
   * trial, also when the store cannot be reached (the local breaker stays authoritative).
   */
  acquireTrial(pathId: string, instanceId: string, ttlMs: number): Promise<boolean>;
}

/** The single-instance store: nothing to share, every trial is this instance's. */
export class InMemoryHealthStore implements HealthStore {
  readonly shared = false;
  /** The last published transition per path (kept for /status and tests). */
  readonly last = new Map<string, PathHealthEvent>();

  join(): Disposable {
    return { dispose: () => {} };
  }

  publish(event: PathHealthEvent): void {
    this.last.set(event.pathId, event);
  }

  acquireTrial(): Promise<boolean> {
    return Promise.resolve(true);
  }

  dispose(): void {}
}
