import type { BreakerTransition, IBreaker } from './breaker/breaker.ts';
import { PaypathError } from './errors.ts';
import { RetryBudget } from './failover/retry-budget.ts';
import { forwardWithFailover, type ForwardResult } from './failover/failover.ts';
import type { AttemptRecord } from './failover/attempt-record.ts';
import type { PathRuntime } from './paths/path-runtime.ts';
import { adaptiveAttemptTimeoutMs, silentPathRule } from './health/adaptive-timeout.ts';
import { SilenceWatch } from './health/silence-watch.ts';
import { everyPathSilentSince, PathSilence, silentFor } from './health/path-silence.ts';
import { InMemoryHealthStore, type HealthStore, type PathHealthEvent } from './health/health-store.ts';
import { createLookupReconciler } from './idempotency/reconcile.ts';
import { LatencyWindow } from './health/latency-window.ts';
import { PathQuality } from './health/path-quality.ts';
import type { ProbeResult, ProbeTarget } from './health/probe.ts';
import { ProbeRunner } from './health/probe-runner.ts';
import { ProbeScheduler } from './health/probe-scheduler.ts';
import { computeRedundancy, type Redundancy } from './health/redundancy.ts';
import { RedundancyAlarm } from './health/redundancy-alarm.ts';
import { PathProofs } from './health/path-proof.ts';
import { TrialGatedBreaker } from './health/trial-gated-breaker.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { AdaptiveTimeoutConfig, BreakerConfig, DegradationConfig, PathConfig, Policy, RouteConfig } from './policy/schema.ts';
import { canonicalJson } from './policy/hash.ts';
import { matchRoute } from './routing.ts';
import type { PathTransport, TransportFactory, UpstreamRequest } from './transport.ts';
import { once } from './once.ts';
import type { EgressProbe } from './egress/egress-probe.ts';
import { EgressWatch } from './egress/egress-watch.ts';
import { describeEgress, egressKey, egressUsable, sameEgress, sharedEgressGroups, uncheckedEgress, type PathEgress } from './egress/path-egress.ts';

export interface GatewayOptions {
  policy: Policy;
  /** From policyHash(policy); shown in /status. */
  policyHash: string;
  transportFactory: TransportFactory;
  /** Makes each path's breaker: OpossumBreaker on Node, TimestampBreaker where timers do not outlive a request. */
  breakerFactory: (config: BreakerConfig, path: PathConfig) => IBreaker;
  /** Called on every breaker transition, e.g. to log it. */
  onTransition?: (pathId: string, transition: BreakerTransition) => void;
  /** Shared breaker state (Redis). Default: in memory, this instance only. */
  healthStore?: HealthStore;
  /** Names this instance in shared state and alarms. Default: a random id. */
  instanceId?: string;
  /** For redundancy alarms. Default: silent. */
  logger?: Logger;
  /** Used to deliver redundancy webhooks. Default: global fetch. */
  fetch?: typeof fetch;
  /** Called after every attempt on any path, e.g. for metrics. */
  onAttempt?: (record: AttemptRecord) => void;
  /**
   * The gateway this one replaces (policy apply). Paths whose config and the breaker settings are
   * unchanged keep their breaker, transport and latency history; see `retire`.
   */
  previous?: Gateway;
  /** Whether a route may use a path now beyond its breaker (e.g. a metered path over budget). Default: always. */
  pathAllowed?: (pathId: string, route: RouteConfig) => boolean;
  /**
   * Called with every probe as it starts (due, Cron round, on demand). Where work dies with the
   * request that started it (Workers), hand it to that request's ctx.waitUntil.
   */
  onProbeStart?: (probe: Promise<ProbeResult>) => void;
  /** Called with every finished probe, e.g. for metrics. */
  onProbe?: (pathId: string, result: ProbeResult) => void;
  /**
   * Asks the kernel how each path's packets leave (see `startEgressWatch`). Default: none, and
   * every path's egress is reported as unknown (Workers cannot see the host's routes).
   */
  egressProbe?: EgressProbe;
  /** Clock of the every-path-down rule and of path proofs (redundancy.provenWithinMs). Default: Date.now. */
  now?: () => number;
}

const TRANSITIONS_KEPT = 50;
/** Connections opened ahead of traffic on each mirror and hot path. */
export const WARM_CONNECTIONS = 4;

/** Per-path runtime state: breaker, transport, counters for /status. */
/** An attempt waiting for its answer on a path, and how to give it up (set a timer only while the path is degraded). */
interface WaitingAttempt {
  startedAt: number;
  giveUp: (reason: string) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

class PathState implements PathRuntime {
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

  constructor(config: PathConfig, breaker: IBreaker, transport: PathTransport, adaptive: AdaptiveTimeoutConfig, now: () => number, degradation: DegradationConfig) {
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
      if (transition.to === 'open') this.silence.giveUpSilent(`the path was opened (${transition.reason}) with nothing answered since this attempt was sent`);
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
    this.quality.record(answeredAfterMs === undefined || this.quality.isSlow(answeredAfterMs, this.latency.quantile(0.1)));
    if (was || !this.quality.degraded) return;
    // Just marked degraded: attempts that have already waited slowMs here are sent on now, the
    // others once they have.
    for (const entry of [...this.#waiting]) this.#giveUpWhenSlow(entry, `path ${this.config.id} was marked degraded (lossy) while this attempt waited`);
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
      if (this.degraded) entry.giveUp(`path ${this.config.id} is degraded (lossy) and this attempt waited ${slowMs} ms`);
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

  watchSilence(route: RouteConfig, startedAt: number, giveUp: (reason: string) => void): (() => void) | undefined {
    const rule = silentPathRule(route, this.latency, this.adaptive);
    const unwatch = rule && this.silence.watch(startedAt, rule, giveUp);
    // Only where a sent request may be asked again elsewhere under its key (the engine watches only
    // attempts with a later path to go to).
    if (!route.idempotency.upstreamHonors || !this.quality.config.enabled) return unwatch;
    const entry: WaitingAttempt = { startedAt, giveUp, timer: undefined };
    this.#waiting.add(entry);
    if (this.degraded) this.#giveUpWhenSlow(entry, `path ${this.config.id} is degraded (lossy) and this attempt waited ${this.quality.config.slowMs} ms`);
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

export interface PathStatus {
  id: string;
  state: IBreaker['state'];
  grade: PathConfig['grade'];
  cost: number;
  bind: string | null;
  shareRisk: string[];
  requests: number;
  failures: number;
  latencyMs: { p50: number | null; p99: number | null };
  lastError: { code: string; at: string } | null;
  /** The last active probe of this path, or null before the first. */
  lastProbe: { latencyMs: number; at: string; error: string | null } | null;
  /**
   * Since when (ISO) the path has been asked something and answered nothing, once that has lasted
   * `redundancy.downAfterMs`; null while it answers. Such a path does not count as healthy.
   */
  silentSince: string | null;
  /**
   * Since when (ISO) the path is degraded: it answers, but too many of its recent exchanges were
   * slow or failed (a lossy link), so payments try it after its siblings; null while it is not.
   * A degraded path still counts as healthy for redundancy (it carries payments when needed).
   */
  degradedSince: string | null;
  /** Share of its exchanges in the degradation window that were slow or failed, in %; null with none. */
  badPercent: number | null;
  transitions: BreakerTransition[];
  interface: string | null;
  /** How the kernel sends this path's packets, and the other paths that leave the same way. */
  egress: PathEgress & { sharedWith: string[] };
  /** When this path last carried traffic during a passing drill (ISO), or null. */
  lastPassingDrillAt: string | null;
  /** When it last proved itself, by a passing drill or an answered request (ISO), or null. */
  provenAt: string | null;
  /** False once it has gone unproven for longer than redundancy.provenWithinMs: then it is no spare. */
  proven: boolean;
}

export interface GatewayStatus {
  redundancy: Redundancy;
  /** Paths counted as one for redundancy because their packets leave the same way (interface and next hop). */
  sharedEgress: { egress: string; paths: string[] }[];
  paths: PathStatus[];
  routes: { id: string; class: RouteConfig['class']; usablePaths: string[] }[];
  policy: { version: number; hash: string };
}

/** The failover gateway for one policy: paths with their breakers and transports, and the routes that use them. */
export class Gateway {
  readonly policy: Policy;
  readonly policyHash: string;
  readonly #paths = new Map<string, PathState>();
  readonly instanceId: string;
  readonly #store: HealthStore;
  readonly #runner: ProbeRunner;
  readonly #probes: ProbeScheduler;
  readonly #alarm: RedundancyAlarm;
  readonly #membership: { dispose(): void };
  readonly retryBudget: RetryBudget;
  readonly #pathAllowed: ((pathId: string, route: RouteConfig) => boolean) | undefined;
  readonly #proofs: PathProofs;
  #inFlight = 0;
  #drainWaiters: (() => void)[] = [];
  #probesRunning = false;
  readonly #logger: Logger;
  readonly #egressProbe: EgressProbe | undefined;
  #egressWatch: EgressWatch | undefined;
  #healthStopped = false;
  readonly #now: () => number;
  /** The level last reported to the alarm. */
  #reportedLevel: string | undefined;

  constructor(options: GatewayOptions) {
    this.policy = options.policy;
    this.policyHash = options.policyHash;
    this.#now = options.now ?? Date.now;
    this.instanceId = options.instanceId ?? options.previous?.instanceId ?? `gw-${crypto.randomUUID().slice(0, 8)}`;
    this.#store = options.healthStore ?? (options.previous ? options.previous.#store : new InMemoryHealthStore());
    this.retryBudget = new RetryBudget(options.policy.retryBudget);
    // Proofs outlive a policy apply: a path proven an hour ago still is.
    this.#proofs = options.previous ? options.previous.#proofs : new PathProofs(this.#now);
    this.#proofs.track(options.policy.paths.map((p) => p.id));
    const store = this.#store;
    const trialLockMs = Math.max(options.policy.probe.intervalMs * 2, options.policy.probe.timeoutMs * 2, 1_000);
    this.#alarm = new RedundancyAlarm({
      webhooks: options.policy.redundancy.webhooks,
      alertBelow: options.policy.redundancy.alertBelow,
      instanceId: this.instanceId,
      logger: options.logger ?? silentLogger,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#pathAllowed = options.pathAllowed;
    this.#logger = options.logger ?? silentLogger;
    this.#egressProbe = options.egressProbe;
    const makeBreaker = (config: PathConfig): IBreaker => {
      const breaker = options.breakerFactory(options.policy.breaker, config);
      return store.shared ? new TrialGatedBreaker(breaker, () => store.acquireTrial(config.id, this.instanceId, trialLockMs), trialLockMs) : breaker;
    };
    const previous = options.previous;
    const breakerUnchanged = previous !== undefined && canonicalJson(previous.policy.breaker) === canonicalJson(options.policy.breaker);
    for (const config of options.policy.paths) {
      const old = breakerUnchanged ? previous.#paths.get(config.id) : undefined;
      const state =
        old && canonicalJson(old.config) === canonicalJson(config)
          ? old
          : new PathState(config, makeBreaker(config), options.transportFactory(config), options.policy.adaptiveTimeout, this.#now, options.policy.degradation);
      state.onAttempt = options.onAttempt;
      state.onTransition = options.onTransition;
      state.adaptive = options.policy.adaptiveTimeout;
      if (canonicalJson(state.quality.config) !== canonicalJson(options.policy.degradation)) state.quality = new PathQuality(options.policy.degradation, this.#now);
      state.onHealth = (path, transition) => this.#afterTransition(path, transition);
      state.onAnswered = (pathId) => this.#proofs.answered(pathId);
      if (options.egressProbe === undefined) state.egress = uncheckedEgress("this runtime cannot see the host's routes");
      this.#paths.set(config.id, state);
    }
    this.#runner = new ProbeRunner({
      probe: options.policy.probe,
      paths: [...this.#paths.values()],
      onResult: (path, result) => {
        options.onProbe?.(path.config.id, result);
        this.#onProbe(path, result);
      },
      onAsk: (path) => (path as PathState).noteAsked(),
      now: this.#now,
      ...(options.onProbeStart ? { onStart: options.onProbeStart } : {}),
    });
    this.#probes = new ProbeScheduler(this.#runner);
    this.#reportedLevel = this.#redundancy().level;
    this.#alarm.update(this.#redundancy(), [], null);
    this.#membership = store.join({
      instanceId: this.instanceId,
      quorum: options.policy.breaker.quorum ?? 1,
      reportTtlMs: options.policy.breaker.windowMs,
      localStates: () => [...this.#paths.values()].flatMap((p) => (p.lastShared ? [p.lastShared] : [])),
      apply: (event) => this.#applyPeer(event),
    });
    // A policy apply hands over running probes to the new gateway (see retire).
    if (previous && previous.#probesRunning) this.startProbes();
    // ... and the egress watch, which checks again at once: the new policy may bind differently.
    if (previous && previous.#egressWatch) void this.startEgressWatch();
  }

  /**
   * Starts asking the kernel how each path leaves (policy `routing.egressCheckMs`, and on every
   * change of addresses, routes or rules the probe reports). Resolves after the first check.
   * Without an egress probe, does nothing.
   */
  startEgressWatch(): Promise<void> {
    const probe = this.#egressProbe;
    if (probe === undefined || this.#egressWatch) return Promise.resolve();
    this.#egressWatch = new EgressWatch({
      probe,
      paths: [...this.#paths.values()],
      intervalMs: this.policy.routing.egressCheckMs,
      onRound: (results) => this.#onEgress(results),
    });
    return this.#egressWatch.start();
  }

  /** Checks every path's egress now (e.g. after routes were changed by paypath itself). */
  checkEgress(): Promise<void> {
    return this.#egressWatch?.checkNow() ?? Promise.resolve();
  }

  #onEgress(results: Map<string, PathEgress>): void {
    const changed: PathState[] = [];
    for (const [id, egress] of results) {
      const path = this.#paths.get(id);
      if (!path) continue;
      const first = path.egress.checkedAt === null;
      const before = path.egress;
      path.egress = egress;
      if (first || !sameEgress(before, egress)) changed.push(path);
    }
    // Logged once all are known, so a line can name the paths leaving the same way.
    for (const path of changed) this.#logEgress(path);
    if (changed.length === 0) return;
    const shared = sharedEgressGroups(this.#egressView());
    const reason = shared.length > 0
      ? `egress: ${shared.map((g) => `${g.paths.join(', ')} all leave by ${g.egress}`).join('; ')}`
      : `egress: ${changed.map((p) => `${p.config.id} ${describeEgress(p.egress)}`).join('; ')}`;
    const redundancy = this.#redundancy();
    this.#reportedLevel = redundancy.level;
    this.#alarm.update(redundancy, this.#pathStates(), { path: changed[0]!.config.id, reason });
  }

  #logEgress(path: PathState): void {
    const egress = path.egress;
    const fields = { event: 'path_egress', path: path.config.id, state: egress.state, interface: egress.interface, gateway: egress.gateway, source: egress.source, reason: egress.reason };
    const sharedWith = this.#sharedWith(path);
    const text = `path ${path.config.id}: ${describeEgress(egress)}${sharedWith.length > 0 ? `, the same way as ${sharedWith.join(', ')}: they count as one path for redundancy` : ''}`;
    if (egress.state === 'no_address' || egress.state === 'unroutable') this.#logger.error(fields, text);
    else if (sharedWith.length > 0) this.#logger.warn(fields, text);
    else this.#logger.info(fields, text);
  }

  #egressView(): { id: string; egress: PathEgress }[] {
    return [...this.#paths.values()].map((p) => ({ id: p.config.id, egress: p.egress }));
  }

  #sharedWith(path: PathState): string[] {
    const key = egressKey(path.egress);
    if (key === null) return [];
    return [...this.#paths.values()].filter((p) => p !== path && egressKey(p.egress) === key).map((p) => p.config.id);
  }

  /** Starts active probes (policy `probe`). Runtimes whose timers outlive requests call this once. */
  startProbes(): void {
    this.#probesRunning = true;
    this.#probes.start();
  }

  /** Stops this gateway's probes, alarms and shared-state membership (it no longer runs the policy). */
  #stopHealth(): void {
    this.#healthStopped = true;
    this.#probesRunning = false;
    this.#probes.stop();
    this.#egressWatch?.stop();
    this.#alarm.close();
    this.#membership.dispose();
  }

  /**
   * Opens connections ahead of traffic on mirror and hot paths (WARM_CONNECTIONS each), so the
   * first payments and the first failover pay no handshake. A passing probe of such a path that
   * carried no payment since the last probe tops them up again (`#onProbe`): unused connections
   * are closed after the keep-alive timeout, and a quiet night would otherwise leave only the
   * probe's own. Never rejects.
   */
  async warmUp(): Promise<void> {
    await Promise.allSettled([...this.#paths.values()].filter(keepsWarmConnections).map((p) => p.transport.warm?.(WARM_CONNECTIONS)));
  }

  /** Probes one path now, e.g. a cold path before it is needed. */
  probeNow(pathId: string): Promise<ProbeResult> {
    return this.#probes.probeNow(pathId);
  }

  /**
   * For runtimes without lasting timers (Workers), called on each request: starts the probe of
   * every path whose last one is older than its interval (as the timers would have), skipping
   * paths already being probed. Resolves with their results; the caller must not make a request
   * wait for it.
   */
  probeDue(): Promise<ProbeResult[]> {
    return this.#runner.runDue();
  }

  /** Probes every path probed on a schedule (cold ones are not) now, due or not: a Cron Trigger's round. */
  probeRound(): Promise<ProbeResult[]> {
    return this.#runner.runRound();
  }

  /** Redundancy webhook deliveries still in progress. */
  alarmDeliveries(): Promise<void> {
    return Promise.all([...this.#alarm.pending]).then(() => {});
  }

  #afterTransition(path: PathState, transition: BreakerTransition): void {
    const fromPeer = transition.reason.startsWith('peer ');
    if (transition.to === 'open' || transition.to === 'closed') {
      const event: PathHealthEvent = {
        pathId: path.config.id,
        state: transition.to,
        reason: transition.reason,
        at: transition.at,
        instanceId: this.instanceId,
      };
      if (!fromPeer) {
        path.lastShared = event;
        this.#store.publish(event);
      }
    }
    this.#probes.reschedule(path.config.id);
    const redundancy = this.#redundancy();
    this.#reportedLevel = redundancy.level;
    this.#alarm.update(redundancy, this.#pathStates(), { path: path.config.id, reason: transition.reason });
    // Cold paths are probed on demand: when the last spare is gone, find out whether they can step in.
    if (redundancy.level === 'N+0' || redundancy.level === 'down') {
      for (const p of this.#paths.values()) if (p.config.grade === 'cold' && p !== path) void this.#probes.probeNow(p.config.id);
    }
  }

  #applyPeer(event: PathHealthEvent): void {
    const path = this.#paths.get(event.pathId);
    if (!path || event.instanceId === this.instanceId) return;
    path.lastShared = event;
    const reason = `peer ${event.instanceId}: ${event.reason}`;
    if (event.state === 'open' && path.breaker.state !== 'open' && path.breaker.state !== 'isolated') path.breaker.trip(reason);
    else if (event.state === 'closed' && path.breaker.state !== 'closed' && path.breaker.state !== 'isolated') path.breaker.reset(reason);
  }

  #onProbe(target: ProbeTarget, result: ProbeResult): void {
    const path = target as PathState;
    if (result.ok) path.answered();
    path.noteExchange(result.ok ? result.latencyMs : undefined);
    this.#applyProbe(path, result);
    // Probes are what notices that every path fell silent, and that one answers again.
    this.#checkLevel();
    this.#probeQuiet();
  }

  #applyProbe(path: PathState, result: ProbeResult): void {
    path.lastProbe = result;
    const state = path.breaker.state;
    if (state === 'isolated') return;
    // Only a path that answers is worth connecting to, and only a quiet one may have lost its
    // spare connections: payments keep a busy path's pool warm, and opening more there only adds
    // work to a busy box. warm() opens only what is missing.
    const quiet = path.requests === path.requestsAtLastProbe;
    path.requestsAtLastProbe = path.requests;
    if (result.ok && quiet && keepsWarmConnections(path)) void path.transport.warm?.(WARM_CONNECTIONS).catch(() => {});
    if (!result.ok) {
      // A failed probe opens the path with no payment involved; while open, it keeps the path open
      // (restarting the reset timer), so no payment is sent to trial a path probes see as dead.
      // Never the last available path, though: when every probe fails at once, this box may be the
      // slow part (a stalled event loop), and payments themselves then decide through the breaker.
      const othersAvailable = [...this.#paths.values()].some((p) => p !== path && p.breaker.isAvailable);
      if (state === 'open' || othersAvailable) path.breaker.trip(`probe: ${result.error}`);
      return;
    }
    if (state === 'closed') return;
    // A passing probe is the half-open trial. With shared state, only the holder of the trial lock closes the path.
    if (!this.#store.shared) {
      path.breaker.reset('probe-succeeded');
      return;
    }
    const lockMs = Math.max(this.policy.probe.intervalMs * 2, 1_000);
    void this.#store.acquireTrial(path.config.id, this.instanceId, lockMs).then((mine) => {
      if (mine && path.breaker.state !== 'closed' && path.breaker.state !== 'isolated') path.breaker.reset('probe-succeeded');
    });
  }

  /** Marks a request as using this gateway until the returned function is called (see `retire`). */
  enter(): () => void {
    this.#inFlight++;
    return once(() => {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const wake of this.#drainWaiters.splice(0)) wake();
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no request is using this gateway. */
  drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** True when `next` carries on this path's breaker and transport (an unchanged path). */
  sharesPath(next: Gateway, pathId: string): boolean {
    const mine = this.#paths.get(pathId);
    return mine !== undefined && next.#paths.get(pathId) === mine;
  }

  /**
   * After a policy apply: waits until requests that started on this gateway are done, then closes
   * the breakers and transports that `next` did not inherit. Never closes a shared path.
   */
  async retire(next: Gateway): Promise<void> {
    this.#stopHealth(); // `next` probes and shares health from now on
    await this.drained();
    const removed = [...this.#paths.entries()].filter(([id]) => !this.sharesPath(next, id)).map(([, state]) => state);
    for (const path of removed) path.breaker.dispose();
    await Promise.all(removed.map((p) => p.transport.close()));
  }

  path(id: string): PathRuntime | undefined {
    return this.#paths.get(id);
  }

  matchRoute(method: string, pathname: string): RouteConfig | undefined {
    return matchRoute(this.policy.routes, method, pathname);
  }

  async forward(route: RouteConfig, request: UpstreamRequest, idempotencyKey: string): Promise<ForwardResult> {
    if (this.#everyPathSilentSince() !== undefined) {
      // Every path is down: nothing is sent into the black hole. Checked again one event-loop turn
      // later, after sockets were read, so an answer already waiting (e.g. after a stall of this
      // box) is not missed.
      await new Promise((resolve) => setTimeout(resolve, 0));
      const since = this.#everyPathSilentSince();
      if (since !== undefined) {
        this.#checkLevel();
        throw this.#everyPathDown(route, since);
      }
    }
    const allowed = this.#pathAllowed;
    const effective = allowed ? { ...route, paths: route.paths.filter((id) => allowed(id, route)) } : route;
    return forwardWithFailover(effective, request, this.#paths, {
      idempotencyKey,
      reconcile: createLookupReconciler(route, request, this.#paths, idempotencyKey),
      retryAfterSeconds: Math.max(1, Math.ceil(this.policy.breaker.resetTimeoutMs / 1000)),
      retryBudget: this.retryBudget,
      now: this.#now,
    });
  }

  /** Paths of a route whose breaker would admit a request now; none while every path is down (silent). */
  usablePaths(route: RouteConfig): string[] {
    if (this.#everyPathSilentSince() !== undefined) return [];
    return route.paths.filter((id) => this.#paths.get(id)?.breaker.isAvailable && (this.#pathAllowed?.(id, route) ?? true));
  }

  /** Ready while every payment route (or, without payment routes, every route) has a usable path: never while every path is down. */
  isReady(): boolean {
    this.#checkLevel();
    const payments = this.policy.routes.filter((r) => r.class === 'payment');
    return (payments.length > 0 ? payments : this.policy.routes).every((route) => this.usablePaths(route).length > 0);
  }

  /** A closed path counts as healthy unless it has been silent for the detection window. */
  #redundancy(): Redundancy {
    const now = this.#now();
    const windowMs = this.#silenceWindowMs();
    const maxAgeMs = this.policy.redundancy.provenWithinMs;
    return computeRedundancy(
      [...this.#paths.values()].map((p) => ({
        id: p.config.id,
        shareRisk: p.config.shareRisk,
        // A path without its address (or without a route) cannot carry anything, whatever its breaker says.
        healthy: p.breaker.state === 'closed' && egressUsable(p.egress) && !(windowMs !== undefined && silentFor(p.answers.silentSince, now, windowMs)),
        egress: egressKey(p.egress),
        proven: !this.#proofs.overdue(p.config.id, maxAgeMs),
      })),
    );
  }

  /**
   * The detection window of the every-path-down rule (`redundancy.downAfterMs`), or undefined while
   * no probe has started within it (probes off, or not run here): probes are what finds the way
   * back while payments are refused, and without them payments must stay the trials.
   */
  #silenceWindowMs(): number | undefined {
    const windowMs = this.policy.redundancy.downAfterMs;
    if (!this.policy.probe.enabled) return undefined;
    const since = this.#now() - windowMs;
    for (const path of this.#paths.values()) if ((this.#runner.lastStartedAt(path.config.id) ?? -Infinity) >= since) return windowMs;
    return undefined;
  }

  /** Paths the every-path-down rule looks at: all but those a drill isolated (they carry nothing on purpose). */
  #silenceCounted(): PathState[] {
    return [...this.#paths.values()].filter((p) => p.breaker.state !== 'isolated');
  }

  /** Since when every path has been silent, once that lasted the detection window (path-silence.ts); else undefined. */
  #everyPathSilentSince(): number | undefined {
    const windowMs = this.#silenceWindowMs();
    if (windowMs === undefined) return undefined;
    return everyPathSilentSince(this.#silenceCounted().map((p) => p.answers), this.#now(), windowMs);
  }

  #pathStates(): { id: string; state: string }[] {
    return [...this.#paths.values()].map((p) => ({ id: p.config.id, state: p.breaker.state }));
  }

  /**
   * Reports a level change that came without a breaker transition (a path fell silent, every path
   * did, or one answers again) to the alarm. No timer: on Workers none outlives the request.
   */
  #checkLevel(): void {
    if (this.#healthStopped) return;
    const redundancy = this.#redundancy();
    if (redundancy.level === this.#reportedLevel) return;
    const cause = silenceCause([...this.#paths.values()], this.#everyPathSilentSince() !== undefined, this.#now(), this.policy.redundancy.downAfterMs);
    this.#reportedLevel = redundancy.level;
    this.#alarm.update(redundancy, this.#pathStates(), cause);
  }

  /**
   * Probes now the paths whose probe can settle whether they are silent, at most once per probe
   * interval each: one asked something that has answered nothing for a probe interval (a slow
   * answer or a cut; a warm or cold path is not probed often enough by itself to tell), and, when
   * every other path is silent, one not asked since its last answer (a cold path, a warm one
   * between its probes): it may be the way out, or the evidence that every path is down.
   */
  #probeQuiet(): void {
    const windowMs = this.#silenceWindowMs();
    if (windowMs === undefined || this.#healthStopped) return;
    const now = this.#now();
    const intervalMs = this.policy.probe.intervalMs;
    const counted = this.#silenceCounted();
    for (const path of counted) {
      const since = path.answers.silentSince;
      const wanted =
        since === undefined
          ? counted.length > 1 && counted.every((other) => other === path || silentFor(other.answers.silentSince, now, windowMs))
          : now - since >= intervalMs;
      if (!wanted || this.#runner.inFlight(path.config.id)) continue;
      const last = this.#runner.lastStartedAt(path.config.id);
      if (last === undefined || now - last >= intervalMs) void this.#runner.run(path);
    }
  }

  #everyPathDown(route: RouteConfig, since: number): PaypathError {
    const silentMs = this.#now() - since;
    return new PaypathError(
      'no_path_available',
      503,
      `every path is down: none has answered anything (payments or probes) for ${silentMs} ms; nothing was sent`,
      {
        details: {
          route: route.id,
          paths: this.#pathStates(),
          silentSince: new Date(since).toISOString(),
        },
        headers: { 'retry-after': String(Math.max(1, Math.ceil(this.policy.probe.intervalMs / 1000))) },
      },
    );
  }

  /** A drill passed while these paths carried its traffic: each has proven itself (see PathProofs). */
  recordDrillPassed(pathIds: readonly string[]): void {
    for (const id of pathIds) this.#proofs.drillPassed(id);
    this.#checkLevel();
  }

  status(): GatewayStatus {
    const paths = [...this.#paths.values()];
    const now = this.#now();
    const windowMs = this.#silenceWindowMs();
    this.#checkLevel();
    return {
      redundancy: this.#redundancy(),
      sharedEgress: sharedEgressGroups(this.#egressView()),
      paths: paths.map((p) => ({
        id: p.config.id,
        state: p.breaker.state,
        grade: p.config.grade,
        cost: p.config.cost,
        bind: p.config.bind ?? null,
        interface: p.config.interface ?? null,
        shareRisk: p.config.shareRisk,
        requests: p.requests,
        failures: p.failures,
        latencyMs: { p50: round(p.latency.quantile(0.5)), p99: round(p.latency.quantile(0.99)) },
        lastError: p.lastError ?? null,
        lastProbe: p.lastProbe ? { latencyMs: p.lastProbe.latencyMs, at: p.lastProbe.at, error: p.lastProbe.error } : null,
        silentSince: windowMs !== undefined && silentFor(p.answers.silentSince, now, windowMs) ? new Date(p.answers.silentSince!).toISOString() : null,
        degradedSince: p.quality.degradedSince !== undefined ? new Date(p.quality.degradedSince).toISOString() : null,
        badPercent: p.quality.badPercent,
        transitions: [...p.transitions],
        egress: { ...p.egress, sharedWith: this.#sharedWith(p) },
        ...this.#proofStatus(p.config.id),
      })),
      routes: this.policy.routes.map((r) => ({ id: r.id, class: r.class, usablePaths: this.usablePaths(r) })),
      policy: { version: this.policy.version, hash: this.policyHash },
    };
  }

  #proofStatus(pathId: string): Pick<PathStatus, 'lastPassingDrillAt' | 'provenAt' | 'proven'> {
    const drillPassedAt = this.#proofs.get(pathId)?.drillPassedAt ?? null;
    const provenAt = this.#proofs.provenAt(pathId);
    return {
      lastPassingDrillAt: drillPassedAt === null ? null : new Date(drillPassedAt).toISOString(),
      provenAt: provenAt === null ? null : new Date(provenAt).toISOString(),
      proven: !this.#proofs.overdue(pathId, this.policy.redundancy.provenWithinMs),
    };
  }

  async close(): Promise<void> {
    this.#stopHealth();
    for (const path of this.#paths.values()) path.breaker.dispose();
    await Promise.all([...this.#paths.values()].map((p) => p.transport.close()));
  }
}

/**
 * Why the level changed without a breaker transition: the path that fell silent last (every path,
 * when `everyPath`), or, when none is silent any more, the one that answered last.
 */
function silenceCause(paths: readonly PathState[], everyPath: boolean, now: number, windowMs: number): { path: string; reason: string } {
  const latest = (key: (p: PathState) => number | undefined) =>
    paths.reduce<PathState | undefined>((best, p) => ((key(p) ?? -Infinity) > (best === undefined ? -Infinity : (key(best) ?? -Infinity)) ? p : best), undefined);
  const fellSilent = latest((p) => (silentFor(p.answers.silentSince, now, windowMs) ? p.answers.silentSince : undefined));
  if (everyPath) return { path: fellSilent?.config.id ?? '', reason: `no path answered anything (payments or probes) for ${windowMs} ms` };
  if (fellSilent) return { path: fellSilent.config.id, reason: `answered nothing (payments or probes) for ${windowMs} ms` };
  return { path: latest((p) => p.lastAnsweredAt)?.config.id ?? '', reason: 'answered again' };
}

function round(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms * 10) / 10;
}

/** Mirror and hot paths keep connections open ahead of traffic: a failover to them pays no handshake. */
function keepsWarmConnections(path: PathState): boolean {
  return path.config.grade === 'mirror' || path.config.grade === 'hot';
}
