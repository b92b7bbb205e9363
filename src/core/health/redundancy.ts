/**
 * Redundancy level as the telephone-exchange rule counts it: independent healthy paths minus one.
 * Paths that share a `shareRisk` tag (same exchange building, same conduit) fail together, so a
 * group of them linked by shared tags counts once, and counts as healthy when any member is.
 * Paths whose packets leave the same way (one interface and next hop, whatever their bind
 * addresses say) are one path too, exactly like a shared tag.
 */
export interface RedundancyInput {
  id: string;
  shareRisk: readonly string[];
  healthy: boolean;
  /** Carried a payment recently enough (redundancy.provenWithinMs). Default: true. */
  proven?: boolean;
  /** How the path's packets leave (`s1 via 10.201.1.1`), when known. */
  egress?: string | null;
}

export type RedundancyLevel = `N+${number}` | 'down';

export interface Redundancy {
  /** Independent risk groups with at least one healthy path. */
  healthy: number;
  /** Independent risk groups in the policy. */
  total: number;
  level: RedundancyLevel;
  /**
   * Healthy paths not proven within the policy's allowance; present only when there are some.
   * Their groups count as healthy but not towards the level (a spare never exercised may not work),
   * which stays N+0 rather than down while any path is healthy.
   */
  unproven?: string[];
}

export function computeRedundancy(paths: readonly RedundancyInput[]): Redundancy {
  const parent = paths.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const byTag = new Map<string, number>();
  const byEgress = new Map<string, number>();
  const link = (seen: Map<string, number>, key: string, i: number) => {
    const other = seen.get(key);
    if (other === undefined) seen.set(key, i);
    else parent[find(i)] = find(other);
  };
  paths.forEach((path, i) => {
    for (const tag of path.shareRisk) link(byTag, tag, i);
    if (path.egress) link(byEgress, path.egress, i);
  });
  const groups = new Map<number, { healthy: boolean; proven: boolean }>();
  paths.forEach((path, i) => {
    const root = find(i);
    const group = groups.get(root) ?? { healthy: false, proven: false };
    group.healthy ||= path.healthy;
    group.proven ||= path.healthy && path.proven !== false;
    groups.set(root, group);
  });
  const total = groups.size;
  const healthy = [...groups.values()].filter((g) => g.healthy).length;
  const proven = [...groups.values()].filter((g) => g.proven).length;
  const unproven = paths.filter((p) => p.healthy && p.proven === false).map((p) => p.id);
  return {
    healthy,
    total,
    level: healthy === 0 ? 'down' : `N+${Math.max(0, proven - 1)}`,
    ...(unproven.length > 0 ? { unproven } : {}),
  };
}

/**
 * The independent paths a level counts (healthy, and proven unless none is): `N+2` is 3, `down` is 0.
 * What `redundancy.alertBelow` is compared with, so the alarm agrees with the level `/status` shows.
 */
export function pathsCounted(level: RedundancyLevel | string): number {
  return level === 'down' ? 0 : Number(level.slice(2)) + 1;
}
