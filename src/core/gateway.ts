import type { BreakerTransition, IBreaker } from './breaker/breaker.ts';
import { PaypathError } from './errors.ts';
import { forwardWithFailover, type AttemptRecord, type ForwardResult, type PathRuntime } from './failover/failover.ts';
import { createLookupReconciler } from './idempotency/reconcile.ts';
import { LatencyWindow } from './health/latency-window.ts';
import { computeRedundancy, type Redundancy } from './health/redundancy.ts';
import type { BreakerConfig, PathConfig, Policy, RouteConfig } from './policy/schema.ts';
import { canonicalJson } from './policy/hash.ts';
import { matchRoute } from './routing.ts';
import type { PathTransport, TransportFactory, UpstreamRequest } from './transport.ts';

export interface GatewayOptions {
  policy: Policy;
  /** From policyHash(policy); shown in /status. */
  policyHash: string;
  transportFactory: TransportFactory;
  /** Makes each path's breaker: OpossumBreaker on Node, TimestampBreaker where timers do not outlive a request. */
  breakerFactory: (config: BreakerConfig, path: PathConfig) => IBreaker;
  /** Generates a key for requests that arrive without one. Default: `pp_` + a random UUID. */
  generateKey?: () => string;
  /** Called on every breaker transition, e.g. to log it. */
  onTransition?: (pathId: string, transition: BreakerTransition) => void;
  /** Called after every attempt on any path, e.g. for metrics. */
  onAttempt?: (record: AttemptRecord) => void;
  /**
   * The gateway this one replaces (policy apply). Paths whose config and the breaker settings are
   * unchanged keep their breaker, transport and latency history; see `retire`.
   */
  previous?: Gateway;
  /** Whether a route may use a path now beyond its breaker (e.g. a metered path over budget). Default: always. */
  pathAllowed?: (pathId: string, route: RouteConfig) => boolean;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const TRANSITIONS_KEPT = 50;

/** Per-path runtime state: breaker, transport, counters for /status. */
class PathState implements PathRuntime {
  readonly latency = new LatencyWindow();
  readonly transitions: BreakerTransition[] = [];
  requests = 0;
  failures = 0;
  lastError: { code: string; at: string } | undefined;

  readonly config: PathConfig;
  readonly breaker: IBreaker;
  readonly transport: PathTransport;
  /** Hooks of the gateway currently owning this state; replaced when a new gateway inherits it. */
  onAttempt: ((record: AttemptRecord) => void) | undefined;
  onTransition: ((pathId: string, transition: BreakerTransition) => void) | undefined;

  constructor(config: PathConfig, breaker: IBreaker, transport: PathTransport) {
    this.config = config;
    this.breaker = breaker;
    this.transport = transport;
    breaker.onStateChange((transition) => {
      this.transitions.push(transition);
      if (this.transitions.length > TRANSITIONS_KEPT) this.transitions.shift();
      this.onTransition?.(config.id, transition);
    });
  }

  recordAttempt(record: AttemptRecord): void {
    this.onAttempt?.(record);
    this.requests++;
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
  transitions: BreakerTransition[];
}

export interface GatewayStatus {
  redundancy: Redundancy;
  paths: PathStatus[];
  routes: { id: string; class: RouteConfig['class']; usablePaths: string[] }[];
  policy: { version: number; hash: string };
}

/** The failover gateway for one policy: paths with their breakers and transports, and the routes that use them. */
export class Gateway {
  readonly policy: Policy;
  readonly policyHash: string;
  readonly #paths = new Map<string, PathState>();
  readonly #generateKey: () => string;
  readonly #pathAllowed: ((pathId: string, route: RouteConfig) => boolean) | undefined;
  #inFlight = 0;
  #drainWaiters: (() => void)[] = [];

  constructor(options: GatewayOptions) {
    this.policy = options.policy;
    this.policyHash = options.policyHash;
    this.#generateKey = options.generateKey ?? (() => `pp_${crypto.randomUUID()}`);
    this.#pathAllowed = options.pathAllowed;
    const makeBreaker = options.breakerFactory;
    const previous = options.previous;
    const breakerUnchanged = previous !== undefined && canonicalJson(previous.policy.breaker) === canonicalJson(options.policy.breaker);
    for (const config of options.policy.paths) {
      const old = breakerUnchanged ? previous.#paths.get(config.id) : undefined;
      const state =
        old && canonicalJson(old.config) === canonicalJson(config)
          ? old
          : new PathState(config, makeBreaker(options.policy.breaker, config), options.transportFactory(config));
      state.onAttempt = options.onAttempt;
      state.onTransition = options.onTransition;
      this.#paths.set(config.id, state);
    }
  }

  /** Marks a request as using this gateway until the returned function is called (see `retire`). */
  enter(): () => void {
    this.#inFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#inFlight--;
      if (this.#inFlight === 0) for (const wake of this.#drainWaiters.splice(0)) wake();
    };
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

  /** The client's idempotency key for this route, validated, or a generated one. */
  idempotencyKey(route: RouteConfig, headers: Headers): { key: string; generated: boolean } {
    const supplied = headers.get(route.idempotency.header);
    if (supplied === null && route.idempotency.require) {
      throw new PaypathError('idempotency_key_required', 400, `route "${route.id}" requires an ${route.idempotency.header} header`, {
        details: { header: route.idempotency.header },
      });
    }
    if (supplied === null) return { key: this.#generateKey(), generated: true };
    if (supplied.length === 0 || supplied.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(supplied)) {
      throw new PaypathError(
        'idempotency_key_invalid',
        400,
        `${route.idempotency.header} must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces`,
        { details: { header: route.idempotency.header } },
      );
    }
    return { key: supplied, generated: false };
  }

  forward(route: RouteConfig, request: UpstreamRequest, idempotencyKey: string): Promise<ForwardResult> {
    const allowed = this.#pathAllowed;
    const effective = allowed ? { ...route, paths: route.paths.filter((id) => allowed(id, route)) } : route;
    return forwardWithFailover(effective, request, this.#paths, {
      idempotencyKey,
      reconcile: createLookupReconciler(route, request, this.#paths, idempotencyKey),
      retryAfterSeconds: Math.max(1, Math.ceil(this.policy.breaker.resetTimeoutMs / 1000)),
    });
  }

  /** Paths of a route whose breaker would admit a request now. */
  usablePaths(route: RouteConfig): string[] {
    return route.paths.filter((id) => this.#paths.get(id)?.breaker.isAvailable && (this.#pathAllowed?.(id, route) ?? true));
  }

  /** Ready while every payment route (or, without payment routes, every route) has a usable path. */
  isReady(): boolean {
    const payments = this.policy.routes.filter((r) => r.class === 'payment');
    return (payments.length > 0 ? payments : this.policy.routes).every((route) => this.usablePaths(route).length > 0);
  }

  status(): GatewayStatus {
    const paths = [...this.#paths.values()];
    return {
      redundancy: computeRedundancy(
        paths.map((p) => ({ id: p.config.id, shareRisk: p.config.shareRisk, healthy: p.breaker.state === 'closed' })),
      ),
      paths: paths.map((p) => ({
        id: p.config.id,
        state: p.breaker.state,
        grade: p.config.grade,
        cost: p.config.cost,
        bind: p.config.bind ?? null,
        shareRisk: p.config.shareRisk,
        requests: p.requests,
        failures: p.failures,
        latencyMs: { p50: round(p.latency.quantile(0.5)), p99: round(p.latency.quantile(0.99)) },
        lastError: p.lastError ?? null,
        transitions: [...p.transitions],
      })),
      routes: this.policy.routes.map((r) => ({ id: r.id, class: r.class, usablePaths: this.usablePaths(r) })),
      policy: { version: this.policy.version, hash: this.policyHash },
    };
  }

  async close(): Promise<void> {
    for (const path of this.#paths.values()) path.breaker.dispose();
    await Promise.all([...this.#paths.values()].map((p) => p.transport.close()));
  }
}

function round(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms * 10) / 10;
}
