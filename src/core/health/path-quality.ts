import type { DegradationConfig } from '../policy/schema.ts';

/**
 * Whether a path is "degraded": it still answers, but too many of its recent exchanges (payments
 * and probes) were slow or failed, the mark of a lossy link. Under packet loss most attempts still
 * succeed, so the breaker stays closed, while every lost segment costs a TCP retransmission (200 ms
 * or more) and every lost SYN a second: the attempts that hit one are what make checkouts slow. A
 * multi-WAN router demotes such a link (tracking loss and latency per link); payments here try a
 * degraded path only after the paths that are not (see orderCandidates in failover/candidates.ts).
 *
 * Degraded once the window holds `minSamples` exchanges of which `badPercent` % or more were bad
 * (failed, or answered later than `slowMs` and 4 times the path's usual latency). It stays degraded until the window holds at least
 * `recoverSamples` exchanges and none of them was bad: with payments gone elsewhere, that is
 * probes only, so a link that still loses packets is not tried with payments again and again.
 */
export class PathQuality {
  readonly #config: DegradationConfig;
  readonly #now: () => number;
  /** Recent exchanges, oldest first: when each finished and whether it was bad. */
  readonly #samples: { at: number; bad: boolean }[] = [];
  #degraded = false;
  #since: number | undefined;

  constructor(config: DegradationConfig, now: () => number) {
    this.#config = config;
    this.#now = now;
  }

  get config(): DegradationConfig {
    return this.#config;
  }

  /**
   * Whether an answer after `latencyMs` counts as slow, given the path's usual latency (its 10th
   * percentile: a lossy link delays many answers, its fastest ones show what the link itself takes;
   * a long link is not slow for being long).
   */
  isSlow(latencyMs: number, usualMs: number | undefined): boolean {
    return latencyMs > Math.max(this.#config.slowMs, (usualMs ?? 0) * SLOW_FACTOR);
  }

  /** An exchange on this path finished; bad: it failed or was slow. */
  record(bad: boolean): void {
    if (!this.#config.enabled) return;
    this.#samples.push({ at: this.#now(), bad });
    this.#update();
  }

  /** Whether the path is degraded now (re-evaluated as old exchanges leave the window). */
  get degraded(): boolean {
    if (this.#degraded) this.#update();
    return this.#degraded;
  }

  /** Epoch ms since when the path is degraded, or undefined. */
  get degradedSince(): number | undefined {
    return this.degraded ? this.#since : undefined;
  }

  /** Share of bad exchanges in the window, in %, or null while the window is empty. */
  get badPercent(): number | null {
    this.#expire();
    if (this.#samples.length === 0) return null;
    return Math.round((100 * this.#samples.filter((s) => s.bad).length) / this.#samples.length);
  }

  #expire(): void {
    const from = this.#now() - this.#config.windowMs;
    let drop = 0;
    while (drop < this.#samples.length && this.#samples[drop]!.at < from) drop++;
    if (drop > 0) this.#samples.splice(0, drop);
    // Bounded however busy the path: only the newest exchanges matter for the share.
    const excess = this.#samples.length - MAX_SAMPLES;
    if (excess > 0) this.#samples.splice(0, excess);
  }

  #update(): void {
    this.#expire();
    const count = this.#samples.length;
    const bad = this.#samples.filter((s) => s.bad).length;
    if (!this.#degraded) {
      if (count >= this.#config.minSamples && bad * 100 >= this.#config.badPercent * count) {
        this.#degraded = true;
        this.#since = this.#now();
      }
    } else if (
      (count >= this.#config.recoverSamples && bad === 0) ||
      (count === 0 && this.#now() - this.#since! >= this.#config.windowMs)
    ) {
      // Clean exchanges again (probes), or nothing seen for a whole window (no probes): tried again.
      this.#degraded = false;
      this.#since = undefined;
    }
  }
}

const MAX_SAMPLES = 1_000;
/** An answer is slow only when also slower than this many times the path's usual latency. */
const SLOW_FACTOR = 4;
