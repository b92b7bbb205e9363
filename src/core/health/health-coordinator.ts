import { probeVerdict } from '../breaker/attribution.ts';
import type { BreakerTransition } from '../breaker/breaker.ts';
import type { EgressProbe } from '../egress/egress-probe.ts';
import { EgressWatch } from '../egress/egress-watch.ts';
import type { Logger } from '../logger.ts';
import { keepsWarmConnections, WARM_CONNECTIONS, type PathSet } from '../paths/path-set.ts';
import { applyEgressResults } from '../paths/egress-updates.ts';
import type { PathState } from '../paths/path-state.ts';
import type { Policy } from '../policy/schema.ts';
import type { HealthStore, PathHealthEvent } from './health-store.ts';
import { silentFor } from './path-silence.ts';
import { applyPeerTransition } from './peer-transition.ts';
import type { PathProofs } from './path-proof.ts';
import type { ProbeResult, ProbeTarget } from './probe.ts';
import { ProbeRunner } from './probe-runner.ts';
import { ProbeScheduler } from './probe-scheduler.ts';
import type { Redundancy } from './redundancy.ts';
import { RedundancyAlarm } from './redundancy-alarm.ts';
import { RedundancyView } from './redundancy-view.ts';
import type { TrialLock } from './trial-lock.ts';

export interface HealthCoordinatorOptions {
  policy: Policy;
  paths: PathSet;
  store: HealthStore;
  instanceId: string;
  trialLock: TrialLock;
  proofs: PathProofs;
  logger: Logger;
  now: () => number;
  fetch?: typeof fetch;
  egressProbe?: EgressProbe;
  onProbeStart?: (probe: Promise<ProbeResult>) => void;
  onProbe?: (pathId: string, result: ProbeResult) => void;
}

/**
 * One gateway's health: breaker transitions shared with peers and applied from them, active
 * probes (and what their results do to breakers), the every-path-down rule, egress checks, and the
 * redundancy alarm they all report to.
 */
export class HealthCoordinator {
  readonly #policy: Policy;
  readonly #paths: PathSet;
  readonly #store: HealthStore;
  readonly #instanceId: string;
  readonly #trialLock: TrialLock;
  readonly #proofs: PathProofs;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #egressProbe: EgressProbe | undefined;
  /** Redundancy and the every-path-down rule, as of now. */
  readonly view: RedundancyView;
  readonly #runner: ProbeRunner;
  readonly #probes: ProbeScheduler;
  readonly #alarm: RedundancyAlarm;
  readonly #membership: { dispose(): void };
  #probesRunning = false;
  #egressWatch: EgressWatch | undefined;
  #stopped = false;
  /** The level last reported to the alarm. */
  #reportedLevel: string | undefined;

  constructor(options: HealthCoordinatorOptions) {
    this.#policy = options.policy;
    this.#paths = options.paths;
    this.#store = options.store;
    this.#instanceId = options.instanceId;
    this.#trialLock = options.trialLock;
    this.#proofs = options.proofs;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#egressProbe = options.egressProbe;
    this.#alarm = new RedundancyAlarm({
      webhooks: options.policy.redundancy.webhooks,
      alertBelow: options.policy.redundancy.alertBelow,
      instanceId: options.instanceId,
      logger: options.logger,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#runner = new ProbeRunner({
      probe: options.policy.probe,
      paths: [...options.paths.all],
      onResult: (path, result) => {
        options.onProbe?.(path.config.id, result);
        this.#onProbe(path, result);
      },
      onAsk: (path) => (path as PathState).noteAsked(),
      now: options.now,
      ...(options.onProbeStart ? { onStart: options.onProbeStart } : {}),
    });
    this.#probes = new ProbeScheduler(this.#runner);
    this.view = new RedundancyView(
      options.policy,
      options.paths,
      options.proofs,
      (pathId) => this.#runner.lastStartedAt(pathId),
      options.now,
    );
    this.#reportedLevel = this.view.redundancy().level;
    this.#alarm.update(this.view.redundancy(), [], null);
    this.#membership = options.store.join({
      instanceId: options.instanceId,
      quorum: options.policy.breaker.quorum ?? 1,
      reportTtlMs: options.policy.breaker.windowMs,
      localStates: () => options.paths.all.flatMap((p) => (p.lastShared ? [p.lastShared] : [])),
      apply: (event) => applyPeerTransition(options.paths, options.instanceId, event),
    });
  }

  get probesRunning(): boolean {
    return this.#probesRunning;
  }

  get egressWatched(): boolean {
    return this.#egressWatch !== undefined;
  }

  startProbes(): void {
    this.#probesRunning = true;
    this.#probes.start();
  }

  probeNow(pathId: string): Promise<ProbeResult> {
    return this.#probes.probeNow(pathId);
  }

  probeDue(): Promise<ProbeResult[]> {
    return this.#runner.runDue();
  }

  probeRound(): Promise<ProbeResult[]> {
    return this.#runner.runRound();
  }

  /**
   * Resolves once the alarm deliveries in progress have ended. Settled, not all: on Workers a
   * delivery begun by an event that has since ended can never settle, and awaiting it rejects.
   */
  alarmDeliveries(): Promise<void> {
    return Promise.allSettled([...this.#alarm.pending]).then(() => {});
  }

  /** Starts the egress watch (see Gateway.startEgressWatch); resolves after its first check. */
  startEgressWatch(): Promise<void> {
    const probe = this.#egressProbe;
    if (probe === undefined || this.#egressWatch) return Promise.resolve();
    this.#egressWatch = new EgressWatch({
      probe,
      paths: [...this.#paths.all],
      intervalMs: this.#policy.routing.egressCheckMs,
      onRound: (results) => {
        const cause = applyEgressResults(this.#paths, results, this.#logger);
        if (cause) this.#report(cause);
      },
    });
    return this.#egressWatch.start();
  }

  checkEgress(): Promise<void> {
    return this.#egressWatch?.checkNow() ?? Promise.resolve();
  }

  /** Stops probes, egress checks, alarms and shared-state membership (the gateway no longer runs the policy). */
  stop(): void {
    this.#stopped = true;
    this.#probesRunning = false;
    this.#probes.stop();
    this.#egressWatch?.stop();
    this.#alarm.close();
    this.#membership.dispose();
  }

  /** A path's breaker changed state: share it, reschedule its probe, tell the alarm. */
  afterTransition(path: PathState, transition: BreakerTransition): void {
    const fromPeer = transition.reason.startsWith('peer ');
    if (transition.to === 'open' || transition.to === 'closed') {
      const event: PathHealthEvent = {
        pathId: path.config.id,
        state: transition.to,
        reason: transition.reason,
        at: transition.at,
        instanceId: this.#instanceId,
      };
      if (!fromPeer) {
        path.lastShared = event;
        this.#store.publish(event);
      }
    }
    this.#probes.reschedule(path.config.id);
    const redundancy = this.#report({ path: path.config.id, reason: transition.reason });
    // Cold paths are probed on demand: when the last spare is gone, find out whether they can step in.
    if (redundancy.level === 'N+0' || redundancy.level === 'down') {
      for (const p of this.#paths.all)
        if (p.config.grade === 'cold' && p !== path) void this.#probes.probeNow(p.config.id);
    }
  }

  /** A drill passed while these paths carried its traffic: each has proven itself (see PathProofs). */
  drillPassed(pathIds: readonly string[]): void {
    for (const id of pathIds) this.#proofs.drillPassed(id);
    this.checkLevel();
  }

  #onProbe(target: ProbeTarget, result: ProbeResult): void {
    const path = target as PathState;
    if (result.ok) path.answered();
    path.noteExchange(result.ok ? result.latencyMs : undefined);
    this.#applyProbe(path, result);
    // Probes are what notices that every path fell silent, and that one answers again.
    this.checkLevel();
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
    if (result.ok && quiet && keepsWarmConnections(path))
      void path.transport.warm?.(WARM_CONNECTIONS).catch(() => {});
    const othersAvailable = this.#paths.all.some((p) => p !== path && p.breaker.isAvailable);
    const verdict = probeVerdict({ ok: result.ok, state, othersAvailable });
    if (verdict === 'trip') path.breaker.trip(`probe: ${result.error}`);
    if (verdict !== 'close') return;
    // With shared state, only the holder of the trial lock closes the path.
    if (!this.#store.shared) {
      path.breaker.reset('probe-succeeded');
      return;
    }
    void this.#trialLock.acquire(path.config.id).then((mine) => {
      if (mine && path.breaker.state !== 'closed' && path.breaker.state !== 'isolated')
        path.breaker.reset('probe-succeeded');
    });
  }

  /**
   * Reports a level change that came without a breaker transition (a path fell silent, every path
   * did, or one answers again) to the alarm. No timer: on Workers none outlives the request.
   */
  checkLevel(): void {
    if (this.#stopped) return;
    const redundancy = this.view.redundancy();
    if (redundancy.level === this.#reportedLevel) return;
    const cause = this.view.silenceCause();
    this.#reportedLevel = redundancy.level;
    this.#alarm.update(redundancy, this.view.pathStates(), cause);
  }

  #report(cause: { path: string; reason: string }): Redundancy {
    const redundancy = this.view.redundancy();
    this.#reportedLevel = redundancy.level;
    this.#alarm.update(redundancy, this.view.pathStates(), cause);
    return redundancy;
  }

  /**
   * Probes now the paths whose probe can settle whether they are silent, at most once per probe
   * interval each: one asked something that has answered nothing for a probe interval (a slow
   * answer or a cut; a warm or cold path is not probed often enough by itself to tell), and, when
   * every other path is silent, one not asked since its last answer (a cold path, a warm one
   * between its probes): it may be the way out, or the evidence that every path is down.
   */
  #probeQuiet(): void {
    const windowMs = this.view.silenceWindowMs();
    if (windowMs === undefined || this.#stopped) return;
    const now = this.#now();
    const intervalMs = this.#policy.probe.intervalMs;
    const counted = this.view.silenceCounted();
    for (const path of counted) {
      const since = path.answers.silentSince;
      const wanted =
        since === undefined
          ? counted.length > 1 &&
            counted.every(
              (other) => other === path || silentFor(other.answers.silentSince, now, windowMs),
            )
          : now - since >= intervalMs;
      if (!wanted || this.#runner.inFlight(path.config.id)) continue;
      const last = this.#runner.lastStartedAt(path.config.id);
      if (last === undefined || now - last >= intervalMs) void this.#runner.run(path);
    }
  }
}
