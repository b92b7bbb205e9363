import type { BreakerTransition, IBreaker } from '../breaker/breaker.ts';
import { egressKey, uncheckedEgress, type PathEgress } from '../egress/path-egress.ts';
import type { AttemptRecord } from '../failover/types.ts';
import { PathQuality } from '../health/path-quality.ts';
import { canonicalJson } from '../policy/hash.ts';
import type { BreakerConfig, PathConfig, Policy } from '../policy/schema.ts';
import type { TransportFactory } from '../transport.ts';
import { PathState } from './path-state.ts';

/** Connections opened ahead of traffic on each mirror and hot path. */
export const WARM_CONNECTIONS = 4;

/** The owning gateway's hooks, set on every path, inherited ones included. */
export interface PathHooks {
  onAttempt: ((record: AttemptRecord) => void) | undefined;
  onTransition: ((pathId: string, transition: BreakerTransition) => void) | undefined;
  onHealth: (path: PathState, transition: BreakerTransition) => void;
  onAnswered: (pathId: string) => void;
}

export interface PathSetOptions {
  policy: Policy;
  transportFactory: TransportFactory;
  /** Makes the breaker of a path built anew. */
  makeBreaker: (config: PathConfig) => IBreaker;
  now: () => number;
  /** False where the runtime cannot see the host's routes: every path's egress stays unknown. */
  egressVisible: boolean;
  hooks: PathHooks;
  /** The paths of the gateway this one replaces (policy apply). */
  previous?: PathSet;
}

/**
 * One policy's paths. Across a policy apply, a path whose config and the breaker settings are
 * unchanged is carried over whole (breaker, transport, latency history); see `close`.
 */
export class PathSet {
  readonly all: readonly PathState[];
  readonly byId: ReadonlyMap<string, PathState>;
  readonly #breaker: BreakerConfig;

  constructor(options: PathSetOptions) {
    const { policy, previous, hooks } = options;
    this.#breaker = policy.breaker;
    const breakerUnchanged =
      previous !== undefined && canonicalJson(previous.#breaker) === canonicalJson(policy.breaker);
    const byId = new Map<string, PathState>();
    for (const config of policy.paths) {
      const old = breakerUnchanged ? previous.byId.get(config.id) : undefined;
      const state =
        old && canonicalJson(old.config) === canonicalJson(config)
          ? old
          : new PathState(
              config,
              options.makeBreaker(config),
              options.transportFactory(config),
              policy.adaptiveTimeout,
              options.now,
              policy.degradation,
            );
      state.onAttempt = hooks.onAttempt;
      state.onTransition = hooks.onTransition;
      state.adaptive = policy.adaptiveTimeout;
      if (canonicalJson(state.quality.config) !== canonicalJson(policy.degradation))
        state.quality = new PathQuality(policy.degradation, options.now);
      state.onHealth = hooks.onHealth;
      state.onAnswered = hooks.onAnswered;
      if (!options.egressVisible)
        state.egress = uncheckedEgress("this runtime cannot see the host's routes");
      byId.set(config.id, state);
    }
    this.byId = byId;
    this.all = [...byId.values()];
  }

  get(id: string): PathState | undefined {
    return this.byId.get(id);
  }

  /** True when `next` carries on this path's breaker and transport (an unchanged path). */
  shares(next: PathSet, pathId: string): boolean {
    const mine = this.byId.get(pathId);
    return mine !== undefined && next.byId.get(pathId) === mine;
  }

  /** The other paths whose packets leave the same way as `path` (interface and next hop). */
  sharedWith(path: PathState): string[] {
    const key = egressKey(path.egress);
    if (key === null) return [];
    return this.all
      .filter((p) => p !== path && egressKey(p.egress) === key)
      .map((p) => p.config.id);
  }

  egressView(): { id: string; egress: PathEgress }[] {
    return this.all.map((p) => ({ id: p.config.id, egress: p.egress }));
  }

  /** Opens WARM_CONNECTIONS on each mirror and hot path. Never rejects. */
  async warmUp(): Promise<void> {
    await Promise.allSettled(
      this.all.filter(keepsWarmConnections).map((p) => p.transport.warm?.(WARM_CONNECTIONS)),
    );
  }

  /** Disposes the breakers and closes the transports of every path `keptBy` did not carry over. */
  async close(keptBy?: PathSet): Promise<void> {
    const removed = this.all.filter(
      (p) => keptBy === undefined || !this.shares(keptBy, p.config.id),
    );
    for (const path of removed) path.breaker.dispose();
    await Promise.all(removed.map((p) => p.transport.close()));
  }
}

/** Mirror and hot paths keep connections open ahead of traffic: a failover to them pays no handshake. */
export function keepsWarmConnections(path: PathState): boolean {
  return path.config.grade === 'mirror' || path.config.grade === 'hot';
}
