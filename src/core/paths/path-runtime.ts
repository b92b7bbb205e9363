import type { IBreaker } from '../breaker/breaker.ts';
import type { AttemptRecord } from '../failover/types.ts';
import type { LatencyWindow } from '../health/latency-window.ts';
import type { PathConfig, RouteConfig } from '../policy/schema.ts';
import type { PathTransport } from '../transport.ts';

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
  watchSilence?(
    route: RouteConfig,
    startedAt: number,
    giveUp: (reason: string) => void,
  ): (() => void) | undefined;
  /** Epoch ms of the last answer that came over this path (payments or probes). */
  readonly lastAnsweredAt?: number;
  /** Called as an attempt's request is handed to the transport (the path is asked something; see PathSilence). */
  noteAsked?(): void;
  /** True while the path answers but loses or delays too many exchanges (PathQuality): tried after its siblings. */
  readonly degraded?: boolean;
}
