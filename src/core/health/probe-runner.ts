import {
  probeIntervalMs,
  sendProbe,
  type ProbeConfig,
  type ProbeResult,
  type ProbeTarget,
} from './probe.ts';

export interface ProbeRunnerOptions {
  probe: ProbeConfig;
  paths: readonly ProbeTarget[];
  /** Called after every probe; the gateway trips or recovers the path from here. */
  onResult: (path: ProbeTarget, result: ProbeResult) => void;
  /** Called with every probe as it starts, e.g. to keep it alive past the request that started it (Workers). */
  onStart?: (probe: Promise<ProbeResult>) => void;
  /** Called as a probe is sent over a path (the path is asked something). */
  onAsk?: (path: ProbeTarget) => void;
  now?: () => number;
}

interface Running {
  promise: Promise<ProbeResult>;
  startedAt: number;
}

/**
 * Runs probes without timers of its own: at most one per path at a time (a second call joins the
 * first), and it knows which paths are due. Node drives it with timers (ProbeScheduler); a Worker,
 * whose timers die with the request, drives it from incoming requests and a Cron Trigger.
 */
export class ProbeRunner {
  readonly probe: ProbeConfig;
  readonly paths: readonly ProbeTarget[];
  readonly #onResult: ProbeRunnerOptions['onResult'];
  readonly #onStart: ProbeRunnerOptions['onStart'];
  readonly #onAsk: ProbeRunnerOptions['onAsk'];
  readonly #now: () => number;
  readonly #running = new Map<string, Running>();
  readonly #lastStarted = new Map<string, number>();

  constructor(options: ProbeRunnerOptions) {
    this.probe = options.probe;
    this.paths = options.paths;
    this.#onResult = options.onResult;
    this.#onStart = options.onStart;
    this.#onAsk = options.onAsk;
    this.#now = options.now ?? Date.now;
  }

  find(pathId: string): ProbeTarget | undefined {
    return this.paths.find((p) => p.config.id === pathId);
  }

  /**
   * Whether a probe of the path is running. One that has not settled long after its timeout no
   * longer counts: a runtime may cancel work whose request has ended, and such a probe never settles.
   */
  inFlight(pathId: string): boolean {
    const running = this.#running.get(pathId);
    return (
      running !== undefined && this.#now() - running.startedAt <= this.probe.timeoutMs * 2 + 1_000
    );
  }

  /** When the path's latest probe started, or undefined before its first. */
  lastStartedAt(pathId: string): number | undefined {
    return this.#lastStarted.get(pathId);
  }

  /** Probes the path now, or joins its probe in flight. */
  run(path: ProbeTarget): Promise<ProbeResult> {
    const id = path.config.id;
    if (this.inFlight(id)) return this.#running.get(id)!.promise;
    const startedAt = this.#now();
    this.#lastStarted.set(id, startedAt);
    this.#onAsk?.(path);
    const running: Running = {
      startedAt,
      promise: sendProbe(path, this.probe, this.#now).then((result) => {
        if (this.#running.get(id) === running) this.#running.delete(id);
        this.#onResult(path, result);
        return result;
      }),
    };
    this.#running.set(id, running);
    this.#onStart?.(running.promise);
    return running.promise;
  }

  /** Paths probed on a schedule whose probe is due: never started, or started at least their interval ago, and not in flight. */
  due(): ProbeTarget[] {
    const now = this.#now();
    return this.#scheduledIdle().filter((path) => {
      const last = this.#lastStarted.get(path.config.id);
      return last === undefined || now - last >= probeIntervalMs(this.probe, path)!;
    });
  }

  /** Starts every due probe; resolves with their results once all are done. */
  runDue(): Promise<ProbeResult[]> {
    return Promise.all(this.due().map((path) => this.run(path)));
  }

  /** Starts a probe of every path probed on a schedule (cold ones are not), due or not, except those in flight. */
  runRound(): Promise<ProbeResult[]> {
    return Promise.all(this.#scheduledIdle().map((path) => this.run(path)));
  }

  /** Paths probed on a schedule (not cold ones, and none while probes are off) with no probe in flight. */
  #scheduledIdle(): ProbeTarget[] {
    if (!this.probe.enabled) return [];
    return this.paths.filter(
      (path) => probeIntervalMs(this.probe, path) !== undefined && !this.inFlight(path.config.id),
    );
  }
}
