import type { Disposable } from '../breaker/breaker.ts';
import { PaypathError } from '../errors.ts';
import type { Gateway } from '../gateway.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { noopMetrics, type GatewayMetrics } from '../metrics.ts';
import { requestFailed, type RequestRecord } from '../request-record.ts';
import type { AuditLog } from './audit.ts';
import type { Drill } from './drill-record.ts';

export interface DrillRunnerOptions {
  gateway: () => Gateway;
  audit: AuditLog;
  metrics?: GatewayMetrics;
  logger?: Logger;
  /** Finished drills kept for /status. Default: 20. */
  kept?: number;
}

const BASELINE_SAMPLES = 200;
export const DRILL_LIMITS = { minMs: 100, maxMs: 3_600_000 } as const;

/**
 * Drills prove a backup by using it: the drilled path is isolated (its breaker held open) while
 * payments keep flowing over the others. A drill that would leave a route without a healthy path
 * is refused, and a drill ends at once if a request fails while it runs.
 */
export class DrillRunner {
  readonly #options: DrillRunnerOptions;
  readonly #metrics: GatewayMetrics;
  readonly #logger: Logger;
  readonly #finished: Drill[] = [];
  readonly #baseline: number[] = [];
  #active:
    | {
        drill: Drill;
        isolation: Disposable[];
        timer: ReturnType<typeof setTimeout>;
        routes: Set<string>;
        durations: number[];
      }
    | undefined;
  #nextId = 1;

  constructor(options: DrillRunnerOptions) {
    this.#options = options;
    this.#metrics = options.metrics ?? noopMetrics;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Feed every finished request here. */
  observe(record: RequestRecord): void {
    if (record.route === undefined) return;
    const active = this.#active;
    if (!active) {
      if (!requestFailed(record)) {
        this.#baseline.push(record.durationMs);
        if (this.#baseline.length > BASELINE_SAMPLES) this.#baseline.shift();
      }
      return;
    }
    if (!active.routes.has(record.route)) return;
    const { drill } = active;
    drill.requests++;
    if (record.path !== undefined)
      drill.carriedBy[record.path] = (drill.carriedBy[record.path] ?? 0) + 1;
    if (requestFailed(record)) {
      drill.failed++;
      void this.#end('request_failed');
    } else {
      active.durations.push(record.durationMs);
    }
  }

  running(): Drill | null {
    return this.#active
      ? {
          ...this.#active.drill,
          paths: [...this.#active.drill.paths],
          carriedBy: { ...this.#active.drill.carriedBy },
        }
      : null;
  }

  /** Newest first. */
  recent(): Drill[] {
    return [...this.#finished].reverse();
  }

  /**
   * Starts a drill isolating `path`, or every one of `paths` at once; throws PaypathError
   * 400/404/409 when it may not run.
   */
  async start(request: {
    path?: string;
    paths?: readonly string[];
    durationMs: number;
    actor: string;
    trigger: Drill['trigger'];
  }): Promise<Drill> {
    const gateway = this.#options.gateway();
    const { durationMs, actor } = request;
    const paths = [...(request.paths ?? (request.path === undefined ? [] : [request.path]))];
    const path = paths[0] ?? '';
    const refuse = async (error: PaypathError) => {
      await this.#options.audit.append({
        time: new Date().toISOString(),
        actor,
        action: 'drill.start',
        outcome: 'refused',
        details: { path, paths, durationMs, code: error.code, reason: error.message },
      });
      if (error.code === 'drill_refused')
        for (const id of paths) this.#metrics.drill(id, 'refused');
      throw error;
    };
    if (paths.length === 0)
      return refuse(
        new PaypathError('invalid_request', 400, 'a drill needs at least one path', {
          details: { field: 'paths' },
        }),
      );
    const repeated = paths.find((id, i) => paths.indexOf(id) !== i);
    if (repeated !== undefined)
      return refuse(
        new PaypathError('invalid_request', 400, `path "${repeated}" is listed twice`, {
          details: { field: 'paths' },
        }),
      );
    if (
      !Number.isInteger(durationMs) ||
      durationMs < DRILL_LIMITS.minMs ||
      durationMs > DRILL_LIMITS.maxMs
    ) {
      return refuse(
        new PaypathError(
          'invalid_request',
          400,
          `durationMs must be an integer from ${DRILL_LIMITS.minMs} to ${DRILL_LIMITS.maxMs}`,
          { details: { field: 'durationMs' } },
        ),
      );
    }
    const unknown = paths.find((id) => !gateway.path(id));
    if (unknown !== undefined) {
      return refuse(
        new PaypathError('path_not_found', 404, `no path "${unknown}" in the running policy`, {
          details: { path: unknown, paths: gateway.policy.paths.map((p) => p.id) },
        }),
      );
    }
    if (this.#active) {
      return refuse(
        new PaypathError(
          'drill_running',
          409,
          `a drill on ${this.#active.drill.paths.join(', ')} is running; one drill at a time`,
          { details: { running: this.#active.drill.id } },
        ),
      );
    }
    const drilled = new Set(paths);
    const routes = gateway.policy.routes.filter((route) =>
      route.paths.some((id) => drilled.has(id)),
    );
    const stranded = routes
      .filter(
        (route) =>
          !route.paths.some(
            (id) => !drilled.has(id) && gateway.path(id)?.breaker.state === 'closed',
          ),
      )
      // A route that queues when no path is left (billing) waits out the drill and is forwarded after
      // it; payments never: the offline limits would refuse some.
      .filter((route) => !(route.whenAllDown === 'queue' && route.class !== 'payment'))
      .map((route) => route.id);
    if (stranded.length > 0) {
      return refuse(
        new PaypathError(
          'drill_refused',
          409,
          `isolating ${paths.join(', ')} would leave ${stranded.join(', ')} without a healthy path`,
          { details: { path, paths, routes: stranded } },
        ),
      );
    }
    const drill: Drill = {
      id: `drill-${this.#nextId++}`,
      path,
      paths,
      actor,
      trigger: request.trigger,
      status: 'running',
      startedAt: new Date().toISOString(),
      endedAt: null,
      durationMs,
      endReason: null,
      requests: 0,
      carriedBy: {},
      failed: 0,
      latencyMs: { baselineP50: median(this.#baseline), drillP50: null, added: null },
    };
    const isolation = paths.map((id) => gateway.path(id)!.breaker.isolate());
    const timer = setTimeout(() => void this.#end('completed'), durationMs);
    this.#active = {
      drill,
      isolation,
      timer,
      routes: new Set(routes.map((r) => r.id)),
      durations: [],
    };
    this.#logger.info(
      { event: 'drill_started', drill: drill.id, path, paths, durationMs, actor },
      `drill ${drill.id}: isolating ${paths.join(', ')} for ${durationMs} ms`,
    );
    await this.#options.audit.append({
      time: drill.startedAt,
      actor,
      action: 'drill.start',
      outcome: 'ok',
      details: { drill: drill.id, path, paths, durationMs, trigger: drill.trigger },
    });
    return { ...drill, paths: [...paths] };
  }

  /** Ends the running drill now (shutdown, or an operator's stop). */
  async stop(): Promise<void> {
    await this.#end('stopped');
  }

  async #end(reason: string): Promise<void> {
    const active = this.#active;
    if (!active) return;
    this.#active = undefined;
    clearTimeout(active.timer);
    for (const isolation of active.isolation) isolation.dispose();
    const { drill } = active;
    drill.endedAt = new Date().toISOString();
    drill.endReason = reason;
    drill.status = drill.failed === 0 ? 'passed' : 'failed';
    const drillP50 = median(active.durations);
    drill.latencyMs.drillP50 = drillP50;
    drill.latencyMs.added =
      drillP50 !== null && drill.latencyMs.baselineP50 !== null
        ? round(drillP50 - drill.latencyMs.baselineP50)
        : null;
    this.#finished.push(drill);
    if (this.#finished.length > (this.#options.kept ?? 20)) this.#finished.shift();
    for (const id of drill.paths)
      this.#metrics.drill(id, drill.status === 'passed' ? 'passed' : 'failed');
    if (drill.status === 'passed') {
      const carriers = Object.entries(drill.carriedBy)
        .filter(([id, count]) => count > 0 && !drill.paths.includes(id))
        .map(([id]) => id);
      this.#options.gateway().recordDrillPassed(carriers);
    }
    const log =
      drill.status === 'passed'
        ? this.#logger.info.bind(this.#logger)
        : this.#logger.error.bind(this.#logger);
    log(
      { event: 'drill_ended', ...drill },
      `drill ${drill.id} on ${drill.paths.join(', ')} ${drill.status}: ${drill.requests} requests, ${drill.failed} failed`,
    );
    await this.#options.audit.append({
      time: drill.endedAt,
      actor: drill.actor,
      action: 'drill.end',
      outcome: drill.status === 'passed' ? 'ok' : 'failed',
      details: { ...drill },
    });
  }
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.floor((sorted.length - 1) / 2)]!);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
