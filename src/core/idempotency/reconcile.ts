import type { PathRuntime } from '../paths/path-runtime.ts';
import type { Reconciler } from '../failover/types.ts';
import type { RouteConfig } from '../policy/schema.ts';
import { discardBody, type UpstreamRequest } from '../transport.ts';

/** Longest a lookup may take, in ms, however much of the deadline remains. */
const LOOKUP_TIMEOUT_MS = 2_000;

/**
 * Asks the route's `idempotency.lookup` endpoint (GET, `{key}` replaced) what became of a key,
 * over the route's other usable paths in order. Contract with the processor: the lookup answers
 * like a replay of the original request (its status and body, `Idempotent-Replayed: true`) when
 * the key completed, 404 when it never saw the key, 409 while it is still processing it.
 * The lookup bypasses the breakers (it is bookkeeping, not traffic) but skips paths they hold open.
 */
export function createLookupReconciler(
  route: RouteConfig,
  request: UpstreamRequest,
  paths: ReadonlyMap<string, PathRuntime>,
  idempotencyKey: string,
): Reconciler | undefined {
  const template = route.idempotency.lookup;
  if (template === undefined) return undefined;
  const target = template.replaceAll('{key}', encodeURIComponent(idempotencyKey));
  const headers = new Headers(request.headers);
  headers.delete('content-type');
  headers.delete('content-encoding');
  headers.set(route.idempotency.header, idempotencyKey);

  return async ({ failedPathId, deadlineAt, now }) => {
    for (const id of route.paths) {
      const path = paths.get(id);
      if (!path || id === failedPathId || !path.breaker.isAvailable) continue;
      const remaining = Math.min(
        LOOKUP_TIMEOUT_MS,
        route.attemptTimeoutMs ?? LOOKUP_TIMEOUT_MS,
        deadlineAt - now(),
      );
      if (remaining <= 0) break;
      try {
        const response = await path.transport.send(
          { method: 'GET', target, headers: new Headers(headers), body: null },
          { signal: AbortSignal.timeout(remaining), bodyTimeoutMs: remaining },
        );
        if (response.status === 404 || response.status === 409) {
          await discardBody(response);
          return response.status === 404 ? { kind: 'not_found' } : { kind: 'in_flight' };
        }
        if (response.headers.get('idempotent-replayed') === 'true' && response.status < 500) {
          return { kind: 'found', response, pathId: id };
        }
        await discardBody(response);
      } catch {
        // This path could not ask either; try the next one.
      }
    }
    return { kind: 'unknown' };
  };
}
