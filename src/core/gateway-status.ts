import type { BreakerTransition, IBreaker } from './breaker/breaker.ts';
import { sharedEgressGroups, type PathEgress } from './egress/path-egress.ts';
import { silentFor } from './health/path-silence.ts';
import type { PathProofs } from './health/path-proof.ts';
import type { Redundancy } from './health/redundancy.ts';
import type { PathSet } from './paths/path-set.ts';
import type { PathState } from './paths/path-state.ts';
import type { PathConfig, Policy, RouteConfig } from './policy/schema.ts';

export interface PathStatus {
  id: string;
  state: IBreaker['state'];
  grade: PathConfig['grade'];
  cost: number;
  bind: string | null;
  shareRisk: string[];
  requests: number;
  failures: number;
  latencyMs: { p50: number | null; p99: number | null };
  lastError: { code: string; at: string } | null;
  /** The last active probe of this path, or null before the first. */
  lastProbe: { latencyMs: number; at: string; error: string | null } | null;
  /**
   * Since when (ISO) the path has been asked something and answered nothing, once that has lasted
   * `redundancy.downAfterMs`; null while it answers. Such a path does not count as healthy.
   */
  silentSince: string | null;
  /**
   * Since when (ISO) the path is degraded: it answers, but too many of its recent exchanges were
   * slow or failed (a lossy link), so payments try it after its siblings; null while it is not.
   * A degraded path still counts as healthy for redundancy (it carries payments when needed).
   */
  degradedSince: string | null;
  /** Share of its exchanges in the degradation window that were slow or failed, in %; null with none. */
  badPercent: number | null;
  transitions: BreakerTransition[];
  interface: string | null;
  /** How the kernel sends this path's packets, and the other paths that leave the same way. */
  egress: PathEgress & { sharedWith: string[] };
  /** When this path last carried traffic during a passing drill (ISO), or null. */
  lastPassingDrillAt: string | null;
  /** When it last proved itself, by a passing drill or an answered request (ISO), or null. */
  provenAt: string | null;
  /** False once it has gone unproven for longer than redundancy.provenWithinMs: then it is no spare. */
  proven: boolean;
}

export interface GatewayStatus {
  redundancy: Redundancy;
  /** Paths counted as one for redundancy because their packets leave the same way (interface and next hop). */
  sharedEgress: { egress: string; paths: string[] }[];
  paths: PathStatus[];
  routes: { id: string; class: RouteConfig['class']; usablePaths: string[] }[];
  policy: { version: number; hash: string };
}

/**
 * The gateway as /status shows it: redundancy, each path, the paths each route may use now.
 * `windowMs` is the every-path-down rule's window, when it applies.
 */
export function gatewayStatus(parts: {
  policy: Policy;
  policyHash: string;
  paths: PathSet;
  proofs: PathProofs;
  redundancy: Redundancy;
  usablePaths: (route: RouteConfig) => string[];
  now: number;
  windowMs: number | undefined;
}): GatewayStatus {
  const { policy, paths, proofs, now, windowMs } = parts;
  return {
    redundancy: parts.redundancy,
    sharedEgress: sharedEgressGroups(paths.egressView()),
    paths: paths.all.map((p) =>
      pathStatus(p, paths, proofs, policy.redundancy.provenWithinMs, now, windowMs),
    ),
    routes: policy.routes.map((r) => ({
      id: r.id,
      class: r.class,
      usablePaths: parts.usablePaths(r),
    })),
    policy: { version: policy.version, hash: parts.policyHash },
  };
}

/** One path as /status shows it; `windowMs` is the every-path-down rule's window, when it applies. */
function pathStatus(
  p: PathState,
  paths: PathSet,
  proofs: PathProofs,
  provenWithinMs: number,
  now: number,
  windowMs: number | undefined,
): PathStatus {
  const drillPassedAt = proofs.get(p.config.id)?.drillPassedAt ?? null;
  const provenAt = proofs.provenAt(p.config.id);
  return {
    id: p.config.id,
    state: p.breaker.state,
    grade: p.config.grade,
    cost: p.config.cost,
    bind: p.config.bind ?? null,
    interface: p.config.interface ?? null,
    shareRisk: p.config.shareRisk,
    requests: p.requests,
    failures: p.failures,
    latencyMs: { p50: round(p.latency.quantile(0.5)), p99: round(p.latency.quantile(0.99)) },
    lastError: p.lastError ?? null,
    lastProbe: p.lastProbe
      ? { latencyMs: p.lastProbe.latencyMs, at: p.lastProbe.at, error: p.lastProbe.error }
      : null,
    silentSince:
      windowMs !== undefined && silentFor(p.answers.silentSince, now, windowMs)
        ? new Date(p.answers.silentSince!).toISOString()
        : null,
    degradedSince:
      p.quality.degradedSince !== undefined
        ? new Date(p.quality.degradedSince).toISOString()
        : null,
    badPercent: p.quality.badPercent,
    transitions: [...p.transitions],
    egress: { ...p.egress, sharedWith: paths.sharedWith(p) },
    lastPassingDrillAt: drillPassedAt === null ? null : new Date(drillPassedAt).toISOString(),
    provenAt: provenAt === null ? null : new Date(provenAt).toISOString(),
    proven: !proofs.overdue(p.config.id, provenWithinMs),
  };
}

function round(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms * 10) / 10;
}
