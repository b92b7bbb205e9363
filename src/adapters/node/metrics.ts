import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import packageJson from '../../../package.json' with { type: 'json' };
import type { BreakerState, BreakerTransition } from '../../core/breaker/breaker.ts';
import type { AttemptRecord } from '../../core/failover/attempt-record.ts';
import type { GatewayStatus } from '../../core/gateway-status.ts';
import type { PathUsage } from '../../core/metering/budget-meter.ts';
import type { GatewayMetrics } from '../../core/metrics.ts';
import { requestFailed, type RequestRecord } from '../../core/request-record.ts';
import type { MetricsSource } from '../../http/routes/metrics.ts';

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PrometheusMetricsOptions {
  /** Current gateway status, read at scrape time for breaker states and redundancy. */
  status: () => GatewayStatus;
  /** Current policy revision, whether the policy file last loaded cleanly, and its `redundancy.alertBelow`. */
  policy: () => { revision: number; hash: string; fileValid: boolean; alertBelow: number };
  /** Whether the Redis client is connected; only when Redis is configured. */
  redisConnected?: () => boolean;
  /** Per path usage and budgets (metered paths). */
  budgets?: () => PathUsage[];
  /** Paths the running policy drills on a schedule. Default: none. */
  drillPaths?: () => readonly string[];
  /** Include Node process metrics (CPU, memory, event loop). Default: true. */
  processMetrics?: boolean;
}

/** GatewayMetrics on prom-client, one Registry per gateway. Names follow Prometheus conventions (docs/ops.md). */
export class PrometheusMetrics implements GatewayMetrics, MetricsSource {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'class' | 'outcome'>;
  readonly #requestDuration: Histogram<'route'>;
  readonly #usageRequests: Counter<'path' | 'class'>;
  readonly #usageBytes: Counter<'path' | 'class'>;
  readonly #attempts: Counter<'path' | 'outcome'>;
  readonly #failures: Counter<'path' | 'class'>;
  readonly #attemptDuration: Histogram<'path'>;
  readonly #transitions: Counter<'path' | 'from' | 'to'>;
  readonly #probes: Counter<'path' | 'result'>;
  readonly #probeDuration: Histogram<'path'>;
  readonly #replays: Counter<'route'>;
  readonly #conflicts: Counter<'route'>;
  readonly #drills: Counter<'path' | 'result'>;
  readonly #drillLastPassed: Gauge<'path'>;
  readonly #deadLetters: Counter<'route'>;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectProcessMetrics(this.registry);
    new Gauge({
      name: 'paypath_build_info',
      help: 'Always 1; the labels name the running paypath version and the Node.js that runs it.',
      labelNames: ['version', 'node_version'],
      registers,
    }).set({ version: packageJson.version, node_version: process.version }, 1);
    this.#requests = new Counter({ name: 'paypath_requests_total', help: 'Requests answered on policy routes, by route, route class and outcome (ok, upstream_<status> or a paypath error code).', labelNames: ['route', 'class', 'outcome'], registers });
    this.#requestDuration = new Histogram({ name: 'paypath_request_duration_seconds', help: 'Time from receiving a routed request to its answer headers, across all attempts.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers });
    this.#usageRequests = new Counter({ name: 'paypath_path_usage_requests_total', help: 'Requests a path carried to an answer, by route class (metered paths).', labelNames: ['path', 'class'], registers });
    this.#usageBytes = new Counter({ name: 'paypath_path_usage_bytes_total', help: 'Request and response body bytes a path carried, by route class (metered paths).', labelNames: ['path', 'class'], registers });
    this.#attempts = new Counter({ name: 'paypath_path_attempts_total', help: 'Attempts per path by outcome: answered, upstream_error, not_sent, sent_no_answer.', labelNames: ['path', 'outcome'], registers });
    this.#failures = new Counter({ name: 'paypath_path_failures_total', help: 'Failed attempts per path by failure class (connect_refused, response_timeout, http_503…).', labelNames: ['path', 'class'], registers });
    this.#attemptDuration = new Histogram({ name: 'paypath_path_attempt_duration_seconds', help: 'Duration of each attempt on a path, answered or not.', labelNames: ['path'], buckets: LATENCY_BUCKETS, registers });
    this.#transitions = new Counter({ name: 'paypath_breaker_transitions_total', help: 'Breaker state transitions per path.', labelNames: ['path', 'from', 'to'], registers });
    this.#probes = new Counter({ name: 'paypath_probes_total', help: 'Active health probes per path by result (ok, failed).', labelNames: ['path', 'result'], registers });
    this.#probeDuration = new Histogram({ name: 'paypath_probe_duration_seconds', help: 'Active health probe duration per path.', labelNames: ['path'], buckets: LATENCY_BUCKETS, registers });
    this.#replays = new Counter({ name: 'paypath_idempotency_replays_total', help: 'Requests answered from the idempotency store without an upstream call.', labelNames: ['route'], registers });
    this.#conflicts = new Counter({ name: 'paypath_idempotency_conflicts_total', help: 'Idempotency conflicts (key in flight, or reused with another body).', labelNames: ['route'], registers });
    this.#drills = new Counter({ name: 'paypath_drills_total', help: 'Drills per path by result: passed, failed, refused.', labelNames: ['path', 'result'], registers });
    this.#drillLastPassed = new Gauge({ name: 'paypath_drill_last_passed_timestamp_seconds', help: 'Unix time of the last drill of a path that passed (since this process started); absent before the first.', labelNames: ['path'], registers });
    this.#deadLetters = new Counter({ name: 'paypath_queue_dead_letters_total', help: 'Queued requests this instance gave up on (dead-lettered), by route.', labelNames: ['route'], registers });

    new Gauge({
      name: 'paypath_breaker_state',
      help: 'Breaker state per path: 1 for the current state, 0 for the others.',
      labelNames: ['path', 'state'],
      registers,
      collect() {
        this.reset();
        for (const path of options.status().paths) {
          for (const state of BREAKER_STATES) this.set({ path: path.id, state }, path.state === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'paypath_redundancy_level',
      help: 'Independent healthy paths minus one (N+level); -1 when no path is healthy.',
      registers,
      collect() {
        this.set(options.status().redundancy.healthy - 1);
      },
    });
    new Gauge({
      name: 'paypath_path_egress_shared',
      help: 'Other paths that leave by this path\'s interface and next hop (0: its own); paths leaving alike count once for redundancy.',
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        for (const path of options.status().paths) this.set({ path: path.id }, path.egress.sharedWith.length);
      },
    });
    new Gauge({
      name: 'paypath_path_egress_info',
      help: 'How each path leaves, from the last egress check (always 1): interface, next hop, source address and state (known, local, no_address, unroutable, unknown); a label is empty when not known.',
      labelNames: ['path', 'state', 'interface', 'gateway', 'source'],
      registers,
      collect() {
        this.reset();
        for (const { id, egress } of options.status().paths) {
          this.set({ path: id, state: egress.state, interface: egress.interface ?? '', gateway: egress.gateway ?? '', source: egress.source ?? '' }, 1);
        }
      },
    });
    new Gauge({
      name: 'paypath_paths_healthy',
      help: 'Independent paths that are healthy (breaker closed, and not silent for redundancy.downAfterMs); paths sharing a shareRisk tag or an egress (interface and next hop) count once, as in paypath_redundancy_level.',
      registers,
      collect() {
        this.set(options.status().redundancy.healthy);
      },
    });
    new Gauge({
      name: 'paypath_redundancy_alert_below',
      help: "The running policy's redundancy.alertBelow: the redundancy alarm is raised while paypath_paths_healthy is below it.",
      registers,
      collect() {
        this.set(options.policy().alertBelow);
      },
    });
    const drillPaths = options.drillPaths;
    new Gauge({
      name: 'paypath_drill_scheduled',
      help: 'Always 1, for each path the running policy drills on a schedule.',
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        for (const path of drillPaths?.() ?? []) this.set({ path }, 1);
      },
    });
    const redisConnected = options.redisConnected;
    if (redisConnected) {
      new Gauge({
        name: 'paypath_redis_up',
        help: 'Whether the Redis client is connected (1) or not (0); payments go on, on local state, while it is 0.',
        registers,
        collect() {
          this.set(redisConnected() ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: 'paypath_policy_revision',
      help: 'Revision number of the running policy (increases with every apply, reload and rollback).',
      registers,
      collect() {
        this.set(options.policy().revision);
      },
    });
    new Gauge({
      name: 'paypath_policy_info',
      help: 'Always 1; the hash label identifies the running policy.',
      labelNames: ['hash'],
      registers,
      collect() {
        this.reset();
        this.set({ hash: options.policy().hash }, 1);
      },
    });
    const budgets = options.budgets;
    if (budgets) {
      new Gauge({
        name: 'paypath_path_budget_used_ratio',
        help: 'Share of its monthly budget a metered path has used (1 = 100 %); only paths with a budget.',
        labelNames: ['path'],
        registers,
        collect() {
          this.reset();
          for (const usage of budgets()) if (usage.usedRatio !== null) this.set({ path: usage.path }, usage.usedRatio);
        },
      });
    }
    new Gauge({
      name: 'paypath_policy_file_valid',
      help: '1 when the policy file last loaded cleanly, 0 while it is invalid (the running policy is kept).',
      registers,
      collect() {
        this.set(options.policy().fileValid ? 1 : 0);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async metrics(): Promise<string> {
    // prom-client writes NaN as "Nan" (e.g. the event loop's mean lag before its first sample);
    // Prometheus happens to accept that, OpenMetrics parsers and strict linters do not.
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  readonly #payments = { total: 0, answered: 0 };

  /** Payments (routes of class payment) since this process started, and how many got the processor's definitive answer. */
  paymentTotals(): { total: number; answered: number } {
    return { ...this.#payments };
  }

  request(record: RequestRecord): void {
    if (record.route === undefined) return;
    const routeClass = record.routeClass ?? 'other';
    this.#requests.inc({ route: record.route, class: routeClass, outcome: record.outcome });
    if (routeClass === 'payment') {
      this.#payments.total++;
      // The processor's definitive answer, a decline included, is a success; a 5xx or a paypath error code is not.
      if (!requestFailed(record)) this.#payments.answered++;
    }
    if (record.replayed) this.#replays.inc({ route: record.route });
    if (record.outcome === 'idempotency_key_in_use' || record.outcome === 'idempotency_key_reused') this.#conflicts.inc({ route: record.route });
    this.#requestDuration.observe({ route: record.route }, record.durationMs / 1000);
    if (record.path !== undefined) {
      this.#usageRequests.inc({ path: record.path, class: routeClass });
      this.#usageBytes.inc({ path: record.path, class: routeClass }, record.requestBytes + record.responseBytes);
    }
  }

  attempt(record: AttemptRecord): void {
    this.#attempts.inc({ path: record.pathId, outcome: record.outcome });
    this.#attemptDuration.observe({ path: record.pathId }, record.durationMs / 1000);
    if (record.outcome !== 'answered') this.#failures.inc({ path: record.pathId, class: record.code });
  }

  transition(pathId: string, transition: BreakerTransition): void {
    this.#transitions.inc({ path: pathId, from: transition.from, to: transition.to });
  }

  probe(pathId: string, ok: boolean, durationMs: number): void {
    this.#probes.inc({ path: pathId, result: ok ? 'ok' : 'failed' });
    this.#probeDuration.observe({ path: pathId }, durationMs / 1000);
  }

  /** Per-path DNS gauges (paths whose upstream is a host name), read from the resolvers at scrape time. */
  watchDns(states: () => { path: string; names: { stale: boolean; addresses: string[]; ageMs?: number }[] }[]): void {
    const registers = [this.registry];
    new Gauge({
      name: 'paypath_dns_answer_available',
      help: "1 when the path has an answer for its upstream's host name to connect with (fresh or stale), else 0.",
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        for (const state of states()) this.set({ path: state.path }, state.names.every((n) => n.addresses.length > 0) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'paypath_dns_answer_stale',
      help: "1 when the path's answer is past its TTL and used only because its resolvers fail (stale-if-error), else 0.",
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        for (const state of states()) this.set({ path: state.path }, state.names.some((n) => n.stale) ? 1 : 0);
      },
    });
  }

  /** Store-and-forward queue gauges, read from the queue at scrape time. */
  watchQueue(stats: () => Promise<{ depth: number; oldestAgeMs: number | null }>): void {
    const registers = [this.registry];
    // One read per scrape, shared by the gauges; a queue that cannot answer leaves them unset.
    let pending: Promise<{ depth: number; oldestAgeMs: number | null } | undefined> | undefined;
    const read = () => {
      pending ??= stats().catch(() => undefined).finally(() => setTimeout(() => (pending = undefined), 0));
      return pending;
    };
    new Gauge({
      name: 'paypath_queue_depth',
      help: 'Requests waiting in the store-and-forward queue.',
      registers,
      async collect() {
        const s = await read();
        if (s) this.set(s.depth);
      },
    });
    new Gauge({
      name: 'paypath_queue_oldest_age_seconds',
      help: 'Age of the oldest queued request (0 when the queue is empty).',
      registers,
      async collect() {
        const s = await read();
        if (s) this.set((s.oldestAgeMs ?? 0) / 1000);
      },
    });
  }

  /** A queued request this instance dead-lettered. */
  deadLetter(routeId: string): void {
    this.#deadLetters.inc({ route: routeId });
  }

  drill(pathId: string, result: 'passed' | 'failed' | 'refused'): void {
    this.#drills.inc({ path: pathId, result });
    if (result === 'passed') this.#drillLastPassed.set({ path: pathId }, Date.now() / 1000);
  }
}

/**
 * prom-client's process and Node.js metrics under `paypath_` (paypath_process_cpu_seconds_total,
 * paypath_nodejs_eventloop_lag_seconds, …), without its `nodejs_active_*_total` gauges: gauges must
 * not end in `_total`, and the same counts are the sum of `nodejs_active_*` by type.
 */
function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'paypath_' });
  for (const metric of registry.getMetricsAsArray()) {
    if (/^paypath_nodejs_active_\w+_total$/.test(metric.name)) registry.removeSingleMetric(metric.name);
  }
}
