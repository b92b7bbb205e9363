import type { AttemptOutcome } from '../breaker/attribution.ts';
import type { UpstreamResponse } from '../transport.ts';
import type { RetryBudget } from './retry-budget.ts';

export type { AttemptOutcome };

export interface AttemptRecord {
  pathId: string;
  outcome: AttemptOutcome;
  /** AttemptErrorCode for failures, `http_<status>` for answers. */
  code: string;
  status?: number;
  durationMs: number;
}

export interface ForwardResult {
  response: UpstreamResponse;
  pathId: string;
  attempts: AttemptRecord[];
  idempotencyKey: string;
  /** True when the answer came from the processor's lookup after an attempt was sent without an answer. */
  reconciled?: boolean;
}

export interface ForwardOptions {
  /** The idempotency key to send on every attempt (the client's, or one generated for it). */
  idempotencyKey: string;
  /** Sent as Retry-After with `no_path_available`. Default: 1. */
  retryAfterSeconds?: number;
  now?: () => number;
  /** Limits re-sends of requests already sent (not failovers of attempts that sent nothing). Default: unlimited. */
  retryBudget?: RetryBudget;
  /** Asked after an attempt was sent without an answer, before retrying or answering outcome_unknown. */
  reconcile?: Reconciler;
}

/** What the engine learns when it asks the processor about a key whose send got no answer (idempotency/reconcile.ts). */
export type ReconcileResult =
  /** The processor has the request's final answer: it is returned as the request's answer. */
  | { kind: 'found'; response: UpstreamResponse; pathId: string }
  /** The processor has no record of the key (yet). */
  | { kind: 'not_found' }
  /** The processor is still processing the key. */
  | { kind: 'in_flight' }
  /** No other path could ask, or the lookup failed. */
  | { kind: 'unknown' };

export interface ReconcileContext {
  /** The path whose attempt was sent without an answer; the lookup goes over the others. */
  failedPathId: string;
  deadlineAt: number;
  now: () => number;
}

export type Reconciler = (context: ReconcileContext) => Promise<ReconcileResult>;
