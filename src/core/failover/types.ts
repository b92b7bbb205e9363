import type { AttemptOutcome } from '../breaker/attribution.ts';
import type { IBreaker } from '../breaker/breaker.ts';
import type { LatencyWindow } from '../health/latency-window.ts';
import type { PathConfig, RouteConfig } from '../policy/schema.ts';
import type { PathTransport, UpstreamResponse } from '../transport.ts';
import type { RetryBudget } from './retry-budget.ts';

export type { AttemptOutcome };

/** Everything the engine needs of one path. */
export interface PathRuntime {
  readonly config: PathConfig;
  readonly breaker: IBreaker;
  readonly transport: PathTransport;
  readonly latency: LatencyWindow;
  /** Called after every attempt on this path, for stats. */
  recordAttempt(record: AttemptRecord): void;
  /** This path's per-attempt timeout for the route (adaptive); default: the route's, else DEFAULT_ATTEMPT_TIMEOUT_MS. */
  attemptTimeoutMs?(route: RouteConfig): number | undefined;
  /**
   * Gives up an attempt early when this path falls silent (SilenceWatch), where the route's timeout
   * adapts; returns what to call when the attempt settles, or undefined when it is not watched.
   */
  watchSilence?(route: RouteConfig, startedAt: number, giveUp: (reason: string) => void): (() => void) | undefined;
  /** Epoch ms of the last answer that came over this path (payments or probes). */
  readonly lastAnsweredAt?: number;
  /** Called as an attempt's request is handed to the transport (the path is asked something; see PathSilence). */
  noteAsked?(): void;
  /** True while the path answers but loses or delays too many exchanges (PathQuality): tried after its siblings. */
  readonly degraded?: boolean;
}

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
