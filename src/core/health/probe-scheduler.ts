import { probeIntervalMs, type ProbeResult } from './probe.ts';
import type { ProbeRunner } from './probe-runner.ts';

/**
 * Active probes on timers, one loop per path, for runtimes whose timers outlive a request (Node).
 * The runner decides nothing about time: this schedules each path's next probe at the interval its
 * grade and breaker state call for (see probeIntervalMs); cold paths only on demand (`probeNow`).
 */
export class ProbeScheduler {
  readonly #runner: ProbeRunner;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #running = false;

  constructor(runner: ProbeRunner) {
    this.#runner = runner;
  }

  start(): void {
    if (this.#running || !this.#runner.probe.enabled) return;
    this.#running = true;
    for (const path of this.#runner.paths) this.#schedule(path.config.id, true);
  }

  /** Re-plans a path's next probe after its breaker changed state (an open warm path is probed sooner). */
  reschedule(pathId: string): void {
    if (!this.#runner.find(pathId) || this.#runner.inFlight(pathId)) return; // a probe in flight schedules the next one itself
    clearTimeout(this.#timers.get(pathId));
    this.#timers.delete(pathId);
    this.#schedule(pathId);
  }

  stop(): void {
    this.#running = false;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Probes a path now (cold paths, drills, tests). Joins a probe already in flight. */
  probeNow(pathId: string): Promise<ProbeResult> {
    const path = this.#runner.find(pathId);
    if (!path) return Promise.reject(new Error(`no path "${pathId}"`));
    return this.#runner.run(path);
  }

  #schedule(pathId: string, first = false): void {
    const path = this.#runner.find(pathId);
    if (!this.#running || !path) return;
    const interval = probeIntervalMs(this.#runner.probe, path);
    if (interval === undefined) return;
    // Spread the first probes so paths are not probed in lock-step.
    const delay = first ? Math.floor(Math.random() * Math.min(interval, 100)) : interval;
    // One timer per path: a probe whose result changed the breaker has already re-planned the next
    // one (reschedule) by the time its own loop does; a second timer would be a second loop.
    clearTimeout(this.#timers.get(pathId));
    const timer = setTimeout(() => {
      this.#timers.delete(pathId);
      void this.#runner.run(path).finally(() => this.#schedule(pathId));
    }, delay);
    (timer as { unref?: () => void }).unref?.();
    this.#timers.set(pathId, timer);
  }
}
