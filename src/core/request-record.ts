/** What the HTTP layer reports about each finished request; feeds logs, metrics and drills. */
export interface RequestRecord {
  requestId: string;
  method: string;
  /** Request path without the query string (a query could carry anything). */
  pathname: string;
  /** Route id of the policy, when one matched. */
  route: string | undefined;
  routeClass: string | undefined;
  /** Path that carried the answer, when one did. */
  path: string | undefined;
  attempts: number;
  status: number;
  /** `ok` for an upstream 2xx-4xx, `upstream_<status>` for a passed-through 5xx/429, else paypath's error code. */
  outcome: string;
  durationMs: number;
  /** Request body size in bytes, when known. */
  requestBytes: number;
  /** Response body size in bytes, when the answer declares it (content-length); else 0. */
  responseBytes: number;
  /** Answered from paypath's idempotency store, without an upstream call. */
  replayed: boolean;
}

/** A request counts as failed when the client did not get the processor's definitive answer. */
export function requestFailed(record: RequestRecord): boolean {
  return record.outcome !== 'ok';
}
