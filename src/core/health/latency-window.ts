/** The last `capacity` latencies of a path, for percentiles in /status and adaptive timeouts. */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;

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
  }

  /** The q-quantile (0..1) of the recorded samples, or undefined when there are none. */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    const sorted = this.#samples.slice(0, this.#count).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }
}
