import type { IBreaker } from '../breaker/breaker.ts';
import { AttemptError } from '../failover/attempt-error.ts';
import { AttemptTimer } from '../failover/attempt-timer.ts';
import type { PathConfig, Policy } from '../policy/schema.ts';
import { discardBody, type PathTransport } from '../transport.ts';

export type ProbeConfig = Policy['probe'];

/** The last probe of a path, as /status shows it. */
export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  /** ISO time the probe finished. */
  at: string;
  /** AttemptError code (`connect_timeout`, `response_timeout`, …) when the probe failed. */
  error: string | null;
  /** Upstream status when it answered. */
  status: number | null;
}

export interface ProbeTarget {
  readonly config: PathConfig;
  readonly breaker: IBreaker;
  readonly transport: PathTransport;
}

export interface ProbeSchedulerOptions {
  probe: ProbeConfig;
  paths: readonly ProbeTarget[];
  /** Called after every probe; the gateway trips or recovers the path from here. */
  onResult: (path: ProbeTarget, result: ProbeResult) => void;
  now?: () => number;
}

/**
 * Active probes, one loop per path, each over that path's own transport (so a probe meets exactly
 * what a payment would: the carrier, the bound source address, the keep-alive pool).
 * How often, by grade: mirror and hot every `intervalMs`, warm every `intervalMs × warmFactor`,
 * cold only on demand (`probeNow`). A path whose breaker is not closed is probed every
 * `intervalMs` whatever its grade (cold excepted), so probes drive its recovery.
 * Any HTTP answer passes: the path carried the request, and a processor error is not the path's
 * fault. Only a transport failure or no answer within `timeoutMs` fails a probe.
 */
export class ProbeScheduler {
  readonly #options: ProbeSchedulerOptions;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #inFlight = new Map<string, Promise<ProbeResult>>();
  #running = false;

  constructor(options: ProbeSchedulerOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#running || !this.#options.probe.enabled) return;
    this.#running = true;
    for (const path of this.#options.paths) this.#schedule(path, true);
  }

  /** Re-plans a path's next probe after its breaker changed state (an open warm path is probed sooner). */
  reschedule(pathId: string): void {
    const path = this.#options.paths.find((p) => p.config.id === pathId);
    if (!path || this.#inFlight.has(pathId)) return; // a probe in flight schedules the next one itself
    clearTimeout(this.#timers.get(pathId));
    this.#timers.delete(pathId);
    this.#schedule(path);
  }

  stop(): void {
    this.#running = false;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Probes a path now (cold paths, drills, tests). Joins a probe already in flight. */
  probeNow(pathId: string): Promise<ProbeResult> {
    const path = this.#options.paths.find((p) => p.config.id === pathId);
    if (!path) return Promise.reject(new Error(`no path "${pathId}"`));
    return this.#probe(path);
  }

  /** Interval for the path's next probe, or undefined when it is probed only on demand. */
  #intervalFor(path: ProbeTarget): number | undefined {
    const { intervalMs, warmFactor } = this.#options.probe;
    if (path.config.grade === 'cold') return undefined;
    if (path.breaker.state !== 'closed') return intervalMs;
    return path.config.grade === 'warm' ? intervalMs * warmFactor : intervalMs;
  }

  #schedule(path: ProbeTarget, first = false): void {
    if (!this.#running) return;
    const interval = this.#intervalFor(path);
    if (interval === undefined) return;
    // Spread the first probes so paths are not probed in lock-step.
    const delay = first ? Math.floor(Math.random() * Math.min(interval, 100)) : interval;
    const timer = setTimeout(() => {
      this.#timers.delete(path.config.id);
      void this.#probe(path).finally(() => this.#schedule(path));
    }, delay);
    (timer as { unref?: () => void }).unref?.();
    this.#timers.set(path.config.id, timer);
  }

  #probe(path: ProbeTarget): Promise<ProbeResult> {
    const running = this.#inFlight.get(path.config.id);
    if (running) return running;
    const probe = this.#send(path).then((result) => {
      this.#inFlight.delete(path.config.id);
      this.#options.onResult(path, result);
      return result;
    });
    this.#inFlight.set(path.config.id, probe);
    return probe;
  }

  async #send(path: ProbeTarget): Promise<ProbeResult> {
    const now = this.#options.now ?? Date.now;
    const { path: target, timeoutMs } = this.#options.probe;
    const started = now();
    const finish = (error: string | null, status: number | null): ProbeResult => ({
      ok: error === null,
      latencyMs: Math.round((now() - started) * 10) / 10,
      at: new Date().toISOString(),
      error,
      status,
    });
    // A probe that fails opens the path, so a timer made late by a busy loop must not fail it.
    const timer = new AttemptTimer(timeoutMs);
    try {
      const response = await path.transport.send(
        { method: 'GET', target, headers: new Headers({ 'user-agent': 'paypath-probe' }), body: null },
        { signal: timer.signal, bodyTimeoutMs: timeoutMs },
      );
      await discardBody(response);
      return finish(null, response.status);
    } catch (error) {
      return finish(error instanceof AttemptError ? error.code : 'unexpected', null);
    } finally {
      timer.dispose();
    }
  }
}
