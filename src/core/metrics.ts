import type { BreakerTransition } from './breaker/breaker.ts';
import type { AttemptRecord } from './failover/types.ts';
import type { RequestRecord } from './request-record.ts';

/**
 * Events the core and the HTTP layer emit for metrics. The Node runtime implements it with
 * prom-client (src/adapters/node/metrics.ts); probes feed it through the same object. Idempotency
 * replays and conflicts are read from each RequestRecord. Every method must be cheap and must never throw.
 */
export interface GatewayMetrics {
  request(record: RequestRecord): void;
  attempt(record: AttemptRecord): void;
  transition(pathId: string, transition: BreakerTransition): void;
  probe(pathId: string, ok: boolean, durationMs: number): void;
  drill(pathId: string, result: 'passed' | 'failed' | 'refused'): void;
}

export const noopMetrics: GatewayMetrics = {
  request() {},
  attempt() {},
  transition() {},
  probe() {},
  drill() {},
};
