import type { PathConfig } from '../policy/schema.ts';
import type { BoxInterfaces, EgressProbe } from './egress-probe.ts';
import { checkPathEgress, uncheckedEgress, type PathEgress } from './path-egress.ts';

export interface EgressTarget {
  readonly config: PathConfig;
  /** Where the path's transport last connected, if it has (so a host name need not be resolved again). */
  upstreamAddress(): string | undefined;
}

export interface EgressWatchOptions {
  probe: EgressProbe;
  paths: readonly EgressTarget[];
  /** Checks every this many ms besides at start and on changes the probe reports; 0: never on a timer. */
  intervalMs: number;
  /** Each round's results, by path id. */
  onRound: (results: Map<string, PathEgress>) => void;
}

/**
 * Asks the kernel how every path leaves: at start, every `intervalMs`, and whenever the probe
 * reports a change of addresses, routes or rules. Rounds never overlap; a change reported during
 * a round starts one more after it, so the last change is always seen.
 */
export class EgressWatch {
  readonly #options: EgressWatchOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #subscription: { close(): void } | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: EgressWatchOptions) {
    this.#options = options;
  }

  /** Starts watching; resolves after the first round. */
  start(): Promise<void> {
    const { intervalMs, probe } = this.#options;
    if (intervalMs > 0) {
      this.#timer = setInterval(() => void this.checkNow(), intervalMs);
      (this.#timer as { unref?: () => void }).unref?.();
    }
    this.#subscription = probe.watch?.(() => void this.checkNow());
    return this.checkNow();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#subscription?.close();
  }

  /** Runs a round now, or one more after the running one. Resolves when the results include this call. */
  checkNow(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running.then(() => this.#running ?? undefined);
    }
    this.#running = this.#round().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.checkNow();
      }
    });
    return this.#running;
  }

  async #round(): Promise<void> {
    const { probe, paths } = this.#options;
    const results = new Map<string, PathEgress>();
    let box: BoxInterfaces | undefined;
    try {
      box = await probe.interfaces();
    } catch (error) {
      for (const path of paths)
        results.set(path.config.id, {
          ...uncheckedEgress(`cannot list this box's addresses: ${(error as Error).message}`),
          checkedAt: new Date().toISOString(),
        });
    }
    if (box !== undefined) {
      const checked = await Promise.all(
        paths.map((path) => checkPathEgress(probe, path.config, box, path.upstreamAddress())),
      );
      paths.forEach((path, i) => results.set(path.config.id, checked[i]!));
    }
    if (!this.#stopped) this.#options.onRound(results);
  }
}
