import type { BreakerTransition, IBreaker } from '../breaker/breaker.ts';
import type { AttemptRecord } from '../failover/types.ts';
import { adaptiveAttemptTimeoutMs, silentPathRule } from '../health/adaptive-timeout.ts';
import type { PathHealthEvent } from '../health/health-store.ts';
import { LatencyWindow } from '../health/latency-window.ts';
import { PathQuality } from '../health/path-quality.ts';
import { PathSilence } from '../health/path-silence.ts';
import type { ProbeResult } from '../health/probe.ts';
import { SilenceWatch } from '../health/silence-watch.ts';
import { uncheckedEgress, type PathEgress } from '../egress/path-egress.ts';
import type {
  AdaptiveTimeoutConfig,
  DegradationConfig,
  PathConfig,
  RouteConfig,
} from '../policy/schema.ts';
import type { PathTransport } from '../transport.ts';
import type { PathRuntime } from './path-runtime.ts';

const TRANSITIONS_KEPT = 50;

/** An attempt waiting for its answer on a path, and how to give it up (set a timer only while the path is degraded). */
interface WaitingAttempt {
  startedAt: number;
  giveUp: (reason: string) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Per-path runtime state: breaker, transport, counters for /status. */
export class PathState implements PathRuntime {
  readonly latency = new LatencyWindow();
  readonly transitions: BreakerTransition[] = [];
  requests = 0;
  /** `requests` when the last probe finished: a path without attempts since then is quiet. */
  requestsAtLastProbe = 0;
  failures = 0;
  lastError: { code: string; at: string } | undefined;
  lastProbe: ProbeResult | undefined;
  /** When this path was last asked and answered anything: feeds the every-path-down rule. */
  readonly answers = new PathSilence();
  readonly silence = new SilenceWatch(() => this.lastAnsweredAt);
  /** The last open/closed transition made here or applied from a peer, for resynchronisation. */
  lastShared: PathHealthEvent | undefined;
  /** How the kernel sends this path's packets, from the last egress check. */
  egress: PathEgress;

  readonly config: PathConfig;
  readonly breaker: IBreaker;
  readonly transport: PathTransport;
  /** Adaptive timeout settings of the owning gateway's policy. */
  adaptive: AdaptiveTimeoutConfig;
  /** Loss and delay of this path's recent exchanges: whether it is degraded (tried after its siblings). */
  quality: PathQuality;
  /** Hooks of the gateway currently owning this state; replaced when a new gateway inherits it. */
  onAttempt: ((record: AttemptRecord) => void) | undefined;
  onTransition: ((pathId: string, transition: BreakerTransition) => void) | undefined;
  /** The owning gateway's health handling (shared state, probes, alarms); replaced like the hooks above. */
  onHealth: ((path: PathState, transition: BreakerTransition) => void) | undefined;
  /** Called when the processor answered an attempt on this path: proof that the path carries payments. */
  onAnswered: ((pathId: string) => void) | undefined;
  readonly #now: () => number;
  /** Attempts under way here that may be given up and sent on when the path is degraded. */
  readonly #waiting = new Set<WaitingAttempt>();

  constructor(
    config: PathConfig,
    breaker: IBreaker,
    transport: PathTransport,
    adaptive: AdaptiveTimeoutConfig,
    now: () => number,
    degradation: DegradationConfig,
  ) {
    this.#now = now;
    this.quality = new PathQuality(degradation, now);
    this.config = config;
    this.breaker = breaker;
    this.transport = transport;
    this.adaptive = adaptive;
    this.egress = uncheckedEgress('not checked yet');
    breaker.onStateChange((transition) => {
      // Opened as failing (never by a drill: that is `isolated`): what still waits on it for an
      // answer is given up and sent on elsewhere now, not after its timeout.
      if (transition.to === 'open')
        this.silence.giveUpSilent(
          `the path was opened (${transition.reason}) with nothing answered since this attempt was sent`,
        );
      this.transitions.push(transition);
      if (this.transitions.length > TRANSITIONS_KEPT) this.transitions.shift();
      this.onTransition?.(config.id, transition);
      this.onHealth?.(this, transition);
    });
  }

  get lastAnsweredAt(): number | undefined {
    return this.answers.lastAnsweredAt;
  }

  get degraded(): boolean {
    return this.quality.degraded;
  }

  /** A probe or attempt finished: feeds the degraded mark. */
  noteExchange(answeredAfterMs: number | undefined): void {
    const was = this.quality.degraded;
    this.quality.record(
      answeredAfterMs === undefined ||
        this.quality.isSlow(answeredAfterMs, this.latency.quantile(0.1)),
    );
    if (was || !this.quality.degraded) return;
    // Just marked degraded: attempts that have already waited slowMs here are sent on now, the
    // others once they have.
    for (const entry of [...this.#waiting])
      this.#giveUpWhenSlow(
        entry,
        `path ${this.config.id} was marked degraded (lossy) while this attempt waited`,
      );
  }

  /**
   * On a degraded path, an attempt still waiting after slowMs is most likely waiting for a
   * retransmission (a second for a lost SYN): given up, it is sent on to a sibling. A timer is set
   * only while the path is degraded, so attempts on a sound path cost none.
   */
  #giveUpWhenSlow(entry: WaitingAttempt, reasonNow: string): void {
    const slowMs = this.quality.config.slowMs;
    const waited = this.#now() - entry.startedAt;
    if (waited >= slowMs) {
      entry.giveUp(reasonNow);
      return;
    }
    if (entry.timer !== undefined) return;
    entry.timer = setTimeout(() => {
      if (this.degraded)
        entry.giveUp(
          `path ${this.config.id} is degraded (lossy) and this attempt waited ${slowMs} ms`,
        );
    }, slowMs - waited);
  }

  noteAsked(): void {
    this.answers.asked(this.#now());
  }

  answered(): void {
    this.answers.answered(this.#now());
  }

  attemptTimeoutMs(route: RouteConfig): number | undefined {
    return adaptiveAttemptTimeoutMs(route, this.latency, this.adaptive);
  }

  upstreamAddress(): string | undefined {
    return this.transport.upstreamAddress?.();
  }

  watchSilence(
    route: RouteConfig,
    startedAt: number,
    giveUp: (reason: string) => void,
  ): (() => void) | undefined {
    const rule = silentPathRule(route, this.latency, this.adaptive);
    const unwatch = rule && this.silence.watch(startedAt, rule, giveUp);
    // Only where a sent request may be asked again elsewhere under its key (the engine watches only
    // attempts with a later path to go to).
    if (!route.idempotency.upstreamHonors || !this.quality.config.enabled) return unwatch;
    const entry: WaitingAttempt = { startedAt, giveUp, timer: undefined };
    this.#waiting.add(entry);
    if (this.degraded)
      this.#giveUpWhenSlow(
        entry,
        `path ${this.config.id} is degraded (lossy) and this attempt waited ${this.quality.config.slowMs} ms`,
      );
    return () => {
      if (entry.timer !== undefined) clearTimeout(entry.timer);
      this.#waiting.delete(entry);
      unwatch?.();
    };
  }

  recordAttempt(record: AttemptRecord): void {
    this.onAttempt?.(record);
    this.requests++;
    if (record.outcome === 'answered' || record.outcome === 'upstream_error') this.answered();
    // A 5xx/429 is the processor's, not the link's; a failure to connect or answer is the link's.
    if (record.outcome === 'answered') this.noteExchange(record.durationMs);
    else if (record.outcome !== 'upstream_error') this.noteExchange(undefined);
    if (record.outcome === 'answered') this.onAnswered?.(this.config.id);
    if (record.outcome !== 'answered') {
      this.failures++;
      this.lastError = { code: record.code, at: new Date().toISOString() };
    }
  }
}
