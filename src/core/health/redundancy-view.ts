import { egressKey, egressUsable } from '../egress/path-egress.ts';
import { PaypathError } from '../errors.ts';
import type { PathSet } from '../paths/path-set.ts';
import type { PathState } from '../paths/path-state.ts';
import type { Policy, RouteConfig } from '../policy/schema.ts';
import { everyPathSilentSince, silentFor } from './path-silence.ts';
import type { PathProofs } from './path-proof.ts';
import { computeRedundancy, type Redundancy } from './redundancy.ts';

/** A gateway's redundancy and the every-path-down rule, read from its paths' state now. */
export class RedundancyView {
  readonly #policy: Policy;
  readonly #paths: PathSet;
  readonly #proofs: PathProofs;
  readonly #lastProbeStartedAt: (pathId: string) => number | undefined;
  readonly #now: () => number;

  constructor(
    policy: Policy,
    paths: PathSet,
    proofs: PathProofs,
    lastProbeStartedAt: (pathId: string) => number | undefined,
    now: () => number,
  ) {
    this.#policy = policy;
    this.#paths = paths;
    this.#proofs = proofs;
    this.#lastProbeStartedAt = lastProbeStartedAt;
    this.#now = now;
  }

  /** A closed path counts as healthy unless it has been silent for the detection window. */
  redundancy(): Redundancy {
    const now = this.#now();
    const windowMs = this.silenceWindowMs();
    const maxAgeMs = this.#policy.redundancy.provenWithinMs;
    return computeRedundancy(
      this.#paths.all.map((p) => ({
        id: p.config.id,
        shareRisk: p.config.shareRisk,
        // A path without its address (or without a route) cannot carry anything, whatever its breaker says.
        healthy:
          p.breaker.state === 'closed' &&
          egressUsable(p.egress) &&
          !(windowMs !== undefined && silentFor(p.answers.silentSince, now, windowMs)),
        egress: egressKey(p.egress),
        proven: !this.#proofs.overdue(p.config.id, maxAgeMs),
      })),
    );
  }

  /**
   * The detection window of the every-path-down rule (`redundancy.downAfterMs`), or undefined while
   * no probe has started within it (probes off, or not run here): probes are what finds the way
   * back while payments are refused, and without them payments must stay the trials.
   */
  silenceWindowMs(): number | undefined {
    const windowMs = this.#policy.redundancy.downAfterMs;
    if (!this.#policy.probe.enabled) return undefined;
    const since = this.#now() - windowMs;
    for (const path of this.#paths.all)
      if ((this.#lastProbeStartedAt(path.config.id) ?? -Infinity) >= since) return windowMs;
    return undefined;
  }

  /** Paths the every-path-down rule looks at: all but those a drill isolated (they carry nothing on purpose). */
  silenceCounted(): PathState[] {
    return this.#paths.all.filter((p) => p.breaker.state !== 'isolated');
  }

  /** Since when every path has been silent, once that lasted the detection window (path-silence.ts); else undefined. */
  everyPathSilentSince(): number | undefined {
    const windowMs = this.silenceWindowMs();
    if (windowMs === undefined) return undefined;
    return everyPathSilentSince(
      this.silenceCounted().map((p) => p.answers),
      this.#now(),
      windowMs,
    );
  }

  pathStates(): { id: string; state: string }[] {
    return this.#paths.all.map((p) => ({ id: p.config.id, state: p.breaker.state }));
  }

  /** 503 for a request refused because every path has been silent since `since`: nothing was sent. */
  everyPathDown(route: RouteConfig, since: number): PaypathError {
    const silentMs = this.#now() - since;
    return new PaypathError(
      'no_path_available',
      503,
      `every path is down: none has answered anything (payments or probes) for ${silentMs} ms; nothing was sent`,
      {
        details: {
          route: route.id,
          paths: this.pathStates(),
          silentSince: new Date(since).toISOString(),
        },
        headers: {
          'retry-after': String(Math.max(1, Math.ceil(this.#policy.probe.intervalMs / 1000))),
        },
      },
    );
  }

  /**
   * Why the level changed without a breaker transition: the path that fell silent last (every path,
   * when every path is silent), or, when none is silent any more, the one that answered last.
   */
  silenceCause(): { path: string; reason: string } {
    const paths = this.#paths.all;
    const now = this.#now();
    const windowMs = this.#policy.redundancy.downAfterMs;
    const latest = (key: (p: PathState) => number | undefined) =>
      paths.reduce<PathState | undefined>(
        (best, p) =>
          (key(p) ?? -Infinity) > (best === undefined ? -Infinity : (key(best) ?? -Infinity))
            ? p
            : best,
        undefined,
      );
    const fellSilent = latest((p) =>
      silentFor(p.answers.silentSince, now, windowMs) ? p.answers.silentSince : undefined,
    );
    if (this.everyPathSilentSince() !== undefined)
      return {
        path: fellSilent?.config.id ?? '',
        reason: `no path answered anything (payments or probes) for ${windowMs} ms`,
      };
    if (fellSilent)
      return {
        path: fellSilent.config.id,
        reason: `answered nothing (payments or probes) for ${windowMs} ms`,
      };
    return { path: latest((p) => p.lastAnsweredAt)?.config.id ?? '', reason: 'answered again' };
  }
}
