import {
  describeEgress,
  sameEgress,
  sharedEgressGroups,
  type PathEgress,
} from '../egress/path-egress.ts';
import type { Logger } from '../logger.ts';
import type { PathSet } from './path-set.ts';
import type { PathState } from './path-state.ts';

/**
 * Applies an egress check's results to the paths and logs each path whose egress is new or
 * changed. Returns why the redundancy may have changed (for the alarm), or undefined when no path's did.
 */
export function applyEgressResults(
  paths: PathSet,
  results: Map<string, PathEgress>,
  logger: Logger,
): { path: string; reason: string } | undefined {
  const changed: PathState[] = [];
  for (const [id, egress] of results) {
    const path = paths.get(id);
    if (!path) continue;
    const first = path.egress.checkedAt === null;
    const before = path.egress;
    path.egress = egress;
    if (first || !sameEgress(before, egress)) changed.push(path);
  }
  // Logged once all are known, so a line can name the paths leaving the same way.
  for (const path of changed) logEgress(paths, path, logger);
  if (changed.length === 0) return undefined;
  const shared = sharedEgressGroups(paths.egressView());
  const reason =
    shared.length > 0
      ? `egress: ${shared.map((g) => `${g.paths.join(', ')} all leave by ${g.egress}`).join('; ')}`
      : `egress: ${changed.map((p) => `${p.config.id} ${describeEgress(p.egress)}`).join('; ')}`;
  return { path: changed[0]!.config.id, reason };
}

function logEgress(paths: PathSet, path: PathState, logger: Logger): void {
  const egress = path.egress;
  const fields = {
    event: 'path_egress',
    path: path.config.id,
    state: egress.state,
    interface: egress.interface,
    gateway: egress.gateway,
    source: egress.source,
    reason: egress.reason,
  };
  const sharedWith = paths.sharedWith(path);
  const text = `path ${path.config.id}: ${describeEgress(egress)}${sharedWith.length > 0 ? `, the same way as ${sharedWith.join(', ')}: they count as one path for redundancy` : ''}`;
  if (egress.state === 'no_address' || egress.state === 'unroutable') logger.error(fields, text);
  else if (sharedWith.length > 0) logger.warn(fields, text);
  else logger.info(fields, text);
}
