import type { BreakerTransition, IBreaker } from './breaker/breaker.ts';
import { TrialGatedBreaker } from './breaker/trial-gated-breaker.ts';
import type { EgressProbe } from './egress/egress-probe.ts';
import { forwardWithFailover } from './failover/failover.ts';
import type { AttemptRecord, ForwardResult } from './failover/types.ts';
import { RetryBudget } from './failover/retry-budget.ts';
import { gatewayStatus, type GatewayStatus } from './gateway-status.ts';
import { HealthCoordinator } from './health/health-coordinator.ts';
import { InMemoryHealthStore, type HealthStore } from './health/health-store.ts';
import { PathProofs } from './health/path-proof.ts';
import type { ProbeResult } from './health/probe.ts';
import { TrialLock } from './health/trial-lock.ts';
import { createLookupReconciler } from './idempotency/reconcile.ts';
import { silentLogger, type Logger } from './logger.ts';
import { InFlightRequests } from './in-flight-requests.ts';
import type { PathRuntime } from './paths/path-runtime.ts';
import { PathSet } from './paths/path-set.ts';
import type { BreakerConfig, PathConfig, Policy, RouteConfig } from './policy/schema.ts';
import { matchRoute } from './routing.ts';
import type { TransportFactory, UpstreamRequest } from './transport.ts';

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

/**
 * The failover gateway for one policy: its paths (paths/path-set.ts), their health
 * (health/health-coordinator.ts) and the failover engine (failover/failover.ts), wired together.
 */
export class Gateway {
  readonly policy: Policy;
  readonly policyHash: string;
  readonly instanceId: string;
  readonly retryBudget: RetryBudget;
  readonly #paths: PathSet;
  readonly #health: HealthCoordinator;
  readonly #store: HealthStore;
  readonly #proofs: PathProofs;
  readonly #pathAllowed: ((pathId: string, route: RouteConfig) => boolean) | undefined;
  readonly #now: () => number;
  readonly #requests = new InFlightRequests();

  constructor(options: GatewayOptions) {
    const previous = options.previous;
    this.policy = options.policy;
    this.policyHash = options.policyHash;
    this.#now = options.now ?? Date.now;
    this.instanceId =
      options.instanceId ?? previous?.instanceId ?? `gw-${crypto.randomUUID().slice(0, 8)}`;
    const store = (this.#store =
      options.healthStore ?? (previous ? previous.#store : new InMemoryHealthStore()));
    this.retryBudget = new RetryBudget(options.policy.retryBudget);
    // Proofs outlive a policy apply: a path proven an hour ago still is.
    this.#proofs = previous ? previous.#proofs : new PathProofs(this.#now);
    this.#proofs.track(options.policy.paths.map((p) => p.id));
    this.#pathAllowed = options.pathAllowed;
    const trialLock = new TrialLock(store, this.instanceId, options.policy.probe);
    this.#paths = new PathSet({
      policy: options.policy,
      transportFactory: options.transportFactory,
      makeBreaker: (config) => {
        const breaker = options.breakerFactory(options.policy.breaker, config);
        return store.shared
          ? new TrialGatedBreaker(breaker, () => trialLock.acquire(config.id), trialLock.ms)
          : breaker;
      },
      now: this.#now,
      egressVisible: options.egressProbe !== undefined,
      hooks: {
        onAttempt: options.onAttempt,
        onTransition: options.onTransition,
        onHealth: (path, transition) => this.#health.afterTransition(path, transition),
        onAnswered: (pathId) => this.#proofs.answered(pathId),
      },
      ...(previous ? { previous: previous.#paths } : {}),
    });
    this.#health = new HealthCoordinator({
      policy: options.policy,
      paths: this.#paths,
      store,
      instanceId: this.instanceId,
      trialLock,
      proofs: this.#proofs,
      logger: options.logger ?? silentLogger,
      now: this.#now,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.egressProbe ? { egressProbe: options.egressProbe } : {}),
      ...(options.onProbeStart ? { onProbeStart: options.onProbeStart } : {}),
      ...(options.onProbe ? { onProbe: options.onProbe } : {}),
    });
    // A policy apply hands over running probes to the new gateway (see retire).
    if (previous && previous.#health.probesRunning) this.startProbes();
    // ... and the egress watch, which checks again at once: the new policy may bind differently.
    if (previous && previous.#health.egressWatched) void this.startEgressWatch();
  }

  /**
   * Starts asking the kernel how each path leaves (policy `routing.egressCheckMs`, and on every
   * change of addresses, routes or rules the probe reports). Resolves after the first check.
   * Without an egress probe, does nothing.
   */
  startEgressWatch(): Promise<void> {
    return this.#health.startEgressWatch();
  }

  /** Checks every path's egress now (e.g. after routes were changed by paypath itself). */
  checkEgress(): Promise<void> {
    return this.#health.checkEgress();
  }

  /** Starts active probes (policy `probe`). Runtimes whose timers outlive requests call this once. */
  startProbes(): void {
    this.#health.startProbes();
  }

  /**
   * Opens connections ahead of traffic on mirror and hot paths (WARM_CONNECTIONS each), so the
   * first payments and the first failover pay no handshake. A passing probe of such a path that
   * carried no payment since the last probe tops them up again (HealthCoordinator): unused
   * connections are closed after the keep-alive timeout, and a quiet night would otherwise leave
   * only the probe's own. Never rejects.
   */
  warmUp(): Promise<void> {
    return this.#paths.warmUp();
  }

  /** Probes one path now, e.g. a cold path before it is needed. */
  probeNow(pathId: string): Promise<ProbeResult> {
    return this.#health.probeNow(pathId);
  }

  /**
   * For runtimes without lasting timers (Workers), called on each request: starts the probe of
   * every path whose last one is older than its interval (as the timers would have), skipping
   * paths already being probed. Resolves with their results; the caller must not make a request
   * wait for it.
   */
  probeDue(): Promise<ProbeResult[]> {
    return this.#health.probeDue();
  }

  /** Probes every path probed on a schedule (cold ones are not) now, due or not: a Cron Trigger's round. */
  probeRound(): Promise<ProbeResult[]> {
    return this.#health.probeRound();
  }

  /** Redundancy webhook deliveries still in progress. */
  alarmDeliveries(): Promise<void> {
    return this.#health.alarmDeliveries();
  }

  /** Marks a request as using this gateway until the returned function is called (see `retire`). */
  enter(): () => void {
    return this.#requests.enter();
  }

  get inFlight(): number {
    return this.#requests.count;
  }

  /** Resolves once no request is using this gateway. */
  drained(): Promise<void> {
    return this.#requests.drained();
  }

  /** True when `next` carries on this path's breaker and transport (an unchanged path). */
  sharesPath(next: Gateway, pathId: string): boolean {
    return this.#paths.shares(next.#paths, pathId);
  }

  /**
   * After a policy apply: waits until requests that started on this gateway are done, then closes
   * the breakers and transports that `next` did not inherit. Never closes a shared path.
   */
  async retire(next: Gateway): Promise<void> {
    this.#health.stop(); // `next` probes and shares health from now on
    await this.drained();
    await this.#paths.close(next.#paths);
  }

  path(id: string): PathRuntime | undefined {
    return this.#paths.get(id);
  }

  matchRoute(method: string, pathname: string): RouteConfig | undefined {
    return matchRoute(this.policy.routes, method, pathname);
  }

  async forward(
    route: RouteConfig,
    request: UpstreamRequest,
    idempotencyKey: string,
  ): Promise<ForwardResult> {
    if (this.#health.view.everyPathSilentSince() !== undefined) {
      // Every path is down: nothing is sent into the black hole. Checked again one event-loop turn
      // later, after sockets were read, so an answer already waiting (e.g. after a stall of this
      // box) is not missed.
      await new Promise((resolve) => setTimeout(resolve, 0));
      const since = this.#health.view.everyPathSilentSince();
      if (since !== undefined) {
        this.#health.checkLevel();
        throw this.#health.view.everyPathDown(route, since);
      }
    }
    const allowed = this.#pathAllowed;
    const effective = allowed
      ? { ...route, paths: route.paths.filter((id) => allowed(id, route)) }
      : route;
    return forwardWithFailover(effective, request, this.#paths.byId, {
      idempotencyKey,
      reconcile: createLookupReconciler(route, request, this.#paths.byId, idempotencyKey),
      retryAfterSeconds: Math.max(1, Math.ceil(this.policy.breaker.resetTimeoutMs / 1000)),
      retryBudget: this.retryBudget,
      now: this.#now,
    });
  }

  /** Paths of a route whose breaker would admit a request now; none while every path is down (silent). */
  usablePaths(route: RouteConfig): string[] {
    if (this.#health.view.everyPathSilentSince() !== undefined) return [];
    return route.paths.filter(
      (id) => this.#paths.get(id)?.breaker.isAvailable && (this.#pathAllowed?.(id, route) ?? true),
    );
  }

  /** Ready while every payment route (or, without payment routes, every route) has a usable path: never while every path is down. */
  isReady(): boolean {
    this.#health.checkLevel();
    const payments = this.policy.routes.filter((r) => r.class === 'payment');
    return (payments.length > 0 ? payments : this.policy.routes).every(
      (route) => this.usablePaths(route).length > 0,
    );
  }

  /** A drill passed while these paths carried its traffic: each has proven itself (see PathProofs). */
  recordDrillPassed(pathIds: readonly string[]): void {
    this.#health.drillPassed(pathIds);
  }

  status(): GatewayStatus {
    const now = this.#now();
    const windowMs = this.#health.view.silenceWindowMs();
    this.#health.checkLevel();
    return gatewayStatus({
      policy: this.policy,
      policyHash: this.policyHash,
      paths: this.#paths,
      proofs: this.#proofs,
      redundancy: this.#health.view.redundancy(),
      usablePaths: (route) => this.usablePaths(route),
      now,
      windowMs,
    });
  }

  async close(): Promise<void> {
    this.#health.stop();
    await this.#paths.close();
  }
}
