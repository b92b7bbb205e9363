import type { PathSet } from '../paths/path-set.ts';
import type { PathHealthEvent } from './health-store.ts';

/**
 * Applies a breaker transition another instance shared: this instance's breaker of that path
 * trips or resets to match, unless it is isolated here. Its own events and unknown paths are ignored.
 */
export function applyPeerTransition(
  paths: PathSet,
  instanceId: string,
  event: PathHealthEvent,
): void {
  const path = paths.get(event.pathId);
  if (!path || event.instanceId === instanceId) return;
  path.lastShared = event;
  const reason = `peer ${event.instanceId}: ${event.reason}`;
  if (event.state === 'open' && path.breaker.state !== 'open' && path.breaker.state !== 'isolated')
    path.breaker.trip(reason);
  else if (
    event.state === 'closed' &&
    path.breaker.state !== 'closed' &&
    path.breaker.state !== 'isolated'
  )
    path.breaker.reset(reason);
}
