import type { BreakerTransition } from './breaker/breaker.ts';
import type { AttemptRecord } from './failover/failover.ts';
import type { RequestRecord } from './request-record.ts';

/**
 * Events the core and the HTTP layer emit for metrics. The Node runtime implements it with
 * prom-client (src/adapters/node/metrics.ts); other parts (probes, idempotency, queue) feed it
 * through the same object. Every method must be cheap and must never throw.
 */
export interface GatewayMetrics {
  request(record: RequestRecord): void;
  attempt(record: AttemptRecord): void;
  transition(pathId: string, transition: BreakerTransition): void;
  probe(pathId: string, ok: boolean, durationMs: number): void;
  idempotencyReplay(route: string): void;
  idempotencyConflict(route: string): void;
  queueDepth(route: string, depth: number): void;
  drill(pathId: string, result: 'passed' | 'failed' | 'refused'): void;
}

export const noopMetrics: GatewayMetrics = {
  request() {},
  attempt() {},
  transition() {},
  probe() {},
  idempotencyReplay() {},
  idempotencyConflict() {},
  queueDepth() {},
  drill() {},
};
