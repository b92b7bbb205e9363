/**
 * The attempts in flight on one path, to tell a silent path from one slow answer early.
 *
 * A cut or frozen carrier answers nothing at all: every attempt sent over it waits, and no answer
 * of any kind comes back. One slow payment is different: other answers keep arriving over the
 * same path meanwhile. So an attempt is given up before its adaptive timeout once, since it was
 * sent, the path has answered nothing for `afterMs` while at least `waiting` attempts sent after
 * it wait too. That is tens of milliseconds after a cut under steady traffic, independent of the
 * latency percentile the adaptive timeout follows (which a busy machine inflates); an isolated
 * slow answer, and a path carrying one request at a time, still get the full adaptive timeout.
 *
 * Checks run when an attempt starts on the path (no timer per attempt): under the traffic this
 * rule needs, attempts start every few milliseconds. The verdict is re-checked one event-loop
 * turn later, after sockets were read, so an answer that had already arrived is not missed.
 */
export class SilenceWatch {
  readonly #inFlight: InFlight[] = [];
  readonly #lastAnsweredAt: () => number | undefined;

  /** `lastAnsweredAt`: when the path last answered anything (a payment or a probe), as the path keeps it. */
  constructor(lastAnsweredAt: () => number | undefined) {
    this.#lastAnsweredAt = lastAnsweredAt;
  }

  /**
   * Watches one attempt started at `startedAt`; `giveUp` is called once if the path falls silent.
   * Returns the function to call when the attempt settles.
   */
  watch(startedAt: number, rule: SilenceRule, giveUp: (reason: string) => void): () => void {
    this.#check(startedAt);
    const entry: InFlight = { startedAt, rule, giveUp, done: false };
    this.#inFlight.push(entry);
    return () => {
      entry.done = true;
      const i = this.#inFlight.indexOf(entry);
      if (i >= 0) this.#inFlight.splice(i, 1);
    };
  }

  get inFlight(): number {
    return this.#inFlight.length;
  }

  /**
   * Gives up every attempt the path has not answered anything since it was sent, whatever its age:
   * for when the path was opened as failing (its breaker tripped, a probe failed, a peer saw it
   * fail). Those attempts would otherwise wait out their adaptive timeout on a path known dead,
   * since no new attempt starts there to run the check.
   */
  giveUpSilent(reason: string): void {
    for (const entry of this.#inFlight)
      if (!entry.flagged && !this.#answeredSince(entry.startedAt))
        this.#giveUpSoon(entry, () => reason);
  }

  #check(now: number): void {
    const all = this.#inFlight;
    for (let i = 0; i < all.length; i++) {
      const entry = all[i]!;
      const later = all.length - i; // the attempt starting now counts as one sent later
      if (entry.flagged || now - entry.startedAt < entry.rule.afterMs || later < entry.rule.waiting)
        continue;
      if (this.#answeredSince(entry.startedAt)) continue;
      this.#giveUpSoon(
        entry,
        () =>
          `the path answered nothing for ${now - entry.startedAt} ms while ${later} later attempts waited`,
      );
    }
  }

  /** One event-loop turn later, after sockets were read, unless the attempt settled or the path answered meanwhile. */
  #giveUpSoon(entry: InFlight, reason: () => string): void {
    entry.flagged = true;
    setTimeout(() => {
      if (entry.done || this.#answeredSince(entry.startedAt)) {
        entry.flagged = false;
        return;
      }
      entry.giveUp(reason());
    }, 0);
  }

  #answeredSince(at: number): boolean {
    return (this.#lastAnsweredAt() ?? Number.NEGATIVE_INFINITY) >= at;
  }
}

export interface SilenceRule {
  /** Silence, in ms since the attempt was sent, after which it is given up. */
  afterMs: number;
  /** Attempts sent later over the same path that must be waiting as well. */
  waiting: number;
}

interface InFlight {
  startedAt: number;
  rule: SilenceRule;
  giveUp: (reason: string) => void;
  done: boolean;
  flagged?: boolean;
}
