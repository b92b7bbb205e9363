/**
 * Whether a path answers at all, kept as two timestamps so every runtime computes it the same way
 * (Workers keep no timers between requests; only timestamps survive).
 *
 * A path is asked something whenever a payment attempt or a probe is sent over it, and answers
 * whenever any HTTP answer comes back (a 5xx too: the processor was reached). `silentSince` is when
 * the path was first asked something after its last answer. A path never asked since it last
 * answered is not silent: there is no evidence either way.
 */
export class PathSilence {
  #lastAnsweredAt: number | undefined;
  #silentSince: number | undefined;

  /** Epoch ms of the last answer of any kind, payments or probes. */
  get lastAnsweredAt(): number | undefined {
    return this.#lastAnsweredAt;
  }

  /** Epoch ms of the first question still unanswered (nothing answered since), or undefined. */
  get silentSince(): number | undefined {
    return this.#silentSince;
  }

  /** Something (a payment attempt, a probe) was sent over the path at `at`. */
  asked(at: number): void {
    this.#silentSince ??= at;
  }

  /** Something came back over the path at `at`. */
  answered(at: number): void {
    if (this.#lastAnsweredAt === undefined || at > this.#lastAnsweredAt) this.#lastAnsweredAt = at;
    this.#silentSince = undefined;
  }
}

/** Whether a path has been silent (asked, nothing answered) for at least `windowMs` at `now`. */
export function silentFor(silentSince: number | undefined, now: number, windowMs: number): boolean {
  return silentSince !== undefined && now - silentSince >= windowMs;
}

/**
 * The every-path-down rule: when every path counted has been asked something and answered nothing,
 * probes included, for at least `windowMs`, none can carry a payment. Returns since when all have
 * been silent (the latest of their `silentSince`), or undefined while any path answers, was not
 * asked since its last answer, or fell silent less than `windowMs` ago, and for no paths at all.
 *
 * This is the verdict the per-attempt rules cannot reach: a timeout counts against a path only when
 * another path answered meanwhile, so when every carrier is cut the last breaker stays closed.
 */
export function everyPathSilentSince(
  paths: readonly { silentSince: number | undefined }[],
  now: number,
  windowMs: number,
): number | undefined {
  if (paths.length === 0) return undefined;
  let latest = Number.NEGATIVE_INFINITY;
  for (const { silentSince } of paths) {
    if (!silentFor(silentSince, now, windowMs)) return undefined;
    latest = Math.max(latest, silentSince!);
  }
  return latest;
}
