/**
 * The last `capacity` latencies of a path, for percentiles in /status and adaptive timeouts.
 * Percentiles are read on every attempt (adaptive timeouts), so the sorted copy is reused until a
 * sixteenth of the window is new: sorting 512 numbers per payment was a visible share of its CPU.
 */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;
  #sorted: Float64Array | undefined;
  #sinceSort = 0;

  constructor(capacity = 512) {
    this.#samples = new Float64Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    this.#count = Math.min(this.#count + 1, this.#samples.length);
    this.#sinceSort++;
  }

  /** The q-quantile (0..1) of the recorded samples, or undefined when there are none. */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    if (this.#sorted === undefined || this.#sinceSort * 16 > this.#count) {
      this.#sorted = this.#samples.slice(0, this.#count).sort();
      this.#sinceSort = 0;
    }
    const sorted = this.#sorted;
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }
}
