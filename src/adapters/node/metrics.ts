import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import packageJson from '../../../package.json' with { type: 'json' };
import type { BreakerTransition } from '../../core/breaker/breaker.ts';
import type { AttemptRecord } from '../../core/failover/types.ts';
import type { GatewayMetrics } from '../../core/metrics.ts';
import { requestFailed, type RequestRecord } from '../../core/request-record.ts';
import type { MetricsSource } from '../../http/routes/metrics.ts';
import {
  collectProcessMetrics,
  registerDnsGauges,
  registerQueueGauges,
  registerStateGauges,
  type PathDnsSummary,
  type QueueSummary,
  type StateGaugeSources,
} from './metrics-gauges.ts';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PrometheusMetricsOptions extends StateGaugeSources {
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
    this.#requests = new Counter({
      name: 'paypath_requests_total',
      help: 'Requests answered on policy routes, by route, route class and outcome (ok, upstream_<status> or a paypath error code).',
      labelNames: ['route', 'class', 'outcome'],
      registers,
    });
    this.#requestDuration = new Histogram({
      name: 'paypath_request_duration_seconds',
      help: 'Time from receiving a routed request to its answer headers, across all attempts.',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#usageRequests = new Counter({
      name: 'paypath_path_usage_requests_total',
      help: 'Requests a path carried to an answer, by route class (metered paths).',
      labelNames: ['path', 'class'],
      registers,
    });
    this.#usageBytes = new Counter({
      name: 'paypath_path_usage_bytes_total',
      help: 'Request and response body bytes a path carried, by route class (metered paths).',
      labelNames: ['path', 'class'],
      registers,
    });
    this.#attempts = new Counter({
      name: 'paypath_path_attempts_total',
      help: 'Attempts per path by outcome: answered, upstream_error, not_sent, sent_no_answer.',
      labelNames: ['path', 'outcome'],
      registers,
    });
    this.#failures = new Counter({
      name: 'paypath_path_failures_total',
      help: 'Failed attempts per path by failure class (connect_refused, response_timeout, http_503…).',
      labelNames: ['path', 'class'],
      registers,
    });
    this.#attemptDuration = new Histogram({
      name: 'paypath_path_attempt_duration_seconds',
      help: 'Duration of each attempt on a path, answered or not.',
      labelNames: ['path'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#transitions = new Counter({
      name: 'paypath_breaker_transitions_total',
      help: 'Breaker state transitions per path.',
      labelNames: ['path', 'from', 'to'],
      registers,
    });
    this.#probes = new Counter({
      name: 'paypath_probes_total',
      help: 'Active health probes per path by result (ok, failed).',
      labelNames: ['path', 'result'],
      registers,
    });
    this.#probeDuration = new Histogram({
      name: 'paypath_probe_duration_seconds',
      help: 'Active health probe duration per path.',
      labelNames: ['path'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#replays = new Counter({
      name: 'paypath_idempotency_replays_total',
      help: 'Requests answered from the idempotency store without an upstream call.',
      labelNames: ['route'],
      registers,
    });
    this.#conflicts = new Counter({
      name: 'paypath_idempotency_conflicts_total',
      help: 'Idempotency conflicts (key in flight, or reused with another body).',
      labelNames: ['route'],
      registers,
    });
    this.#drills = new Counter({
      name: 'paypath_drills_total',
      help: 'Drills per path by result: passed, failed, refused.',
      labelNames: ['path', 'result'],
      registers,
    });
    this.#drillLastPassed = new Gauge({
      name: 'paypath_drill_last_passed_timestamp_seconds',
      help: 'Unix time of the last drill of a path that passed (since this process started); absent before the first.',
      labelNames: ['path'],
      registers,
    });
    this.#deadLetters = new Counter({
      name: 'paypath_queue_dead_letters_total',
      help: 'Queued requests this instance gave up on (dead-lettered), by route.',
      labelNames: ['route'],
      registers,
    });

    registerStateGauges(registers, options);
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
    if (record.outcome === 'idempotency_key_in_use' || record.outcome === 'idempotency_key_reused')
      this.#conflicts.inc({ route: record.route });
    this.#requestDuration.observe({ route: record.route }, record.durationMs / 1000);
    if (record.path !== undefined) {
      this.#usageRequests.inc({ path: record.path, class: routeClass });
      this.#usageBytes.inc(
        { path: record.path, class: routeClass },
        record.requestBytes + record.responseBytes,
      );
    }
  }

  attempt(record: AttemptRecord): void {
    this.#attempts.inc({ path: record.pathId, outcome: record.outcome });
    this.#attemptDuration.observe({ path: record.pathId }, record.durationMs / 1000);
    if (record.outcome !== 'answered')
      this.#failures.inc({ path: record.pathId, class: record.code });
  }

  transition(pathId: string, transition: BreakerTransition): void {
    this.#transitions.inc({ path: pathId, from: transition.from, to: transition.to });
  }

  probe(pathId: string, ok: boolean, durationMs: number): void {
    this.#probes.inc({ path: pathId, result: ok ? 'ok' : 'failed' });
    this.#probeDuration.observe({ path: pathId }, durationMs / 1000);
  }

  /** Per-path DNS gauges (paths whose upstream is a host name), read from the resolvers at scrape time. */
  watchDns(states: () => PathDnsSummary[]): void {
    registerDnsGauges([this.registry], states);
  }

  /** Store-and-forward queue gauges, read from the queue at scrape time. */
  watchQueue(stats: () => Promise<QueueSummary>): void {
    registerQueueGauges([this.registry], stats);
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
