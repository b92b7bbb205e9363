import type { AttemptError } from '../attempt-error.ts';
import { raceConnects } from './connect-hedge.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';

/**
 * The route's paths in its order, except that degraded paths (a lossy carrier) come after the
 * others while one of those others would take a request: a lost segment on a degraded path costs a
 * checkout a TCP retransmission, a lost SYN a second. A degraded path stays a candidate, so it
 * still carries the payment when no sibling can.
 */
export function orderCandidates(candidates: readonly PathRuntime[]): PathRuntime[] {
  if (!candidates.some((p) => p.degraded)) return [...candidates];
  const healthy = candidates.filter((p) => !p.degraded);
  if (!healthy.some((p) => p.breaker.isAvailable)) return [...candidates];
  return [...healthy, ...candidates.filter((p) => p.degraded)];
}

/** A connect that failed while hedging: nothing was sent on that path. */
export interface ConnectFailure {
  path: PathRuntime;
  error: AttemptError;
}

/**
 * Which path a request tries next: the candidates in order (orderCandidates), skipping those whose
 * breaker would not admit a request, moving past the paths a connect hedge raced, or back to the
 * same path when it should be asked again.
 */
export class CandidateCursor {
  readonly paths: readonly PathRuntime[];
  #index = -1;

  constructor(candidates: readonly PathRuntime[]) {
    this.paths = orderCandidates(candidates);
  }

  /** The next candidate whose breaker would admit a request now, or undefined when none is left. */
  next(): PathRuntime | undefined {
    while (++this.#index < this.paths.length) {
      const path = this.paths[this.#index]!;
      if (path.breaker.isAvailable) return path;
    }
    return undefined;
  }

  /** The next `next()` returns the current path again (it answered, and is to be asked again). */
  again(): void {
    this.#index--;
  }

  /** Whether a candidate after the current one would admit a request now. */
  laterUsable(): boolean {
    return this.paths.slice(this.#index + 1).some((p) => p.breaker.isAvailable);
  }

  /**
   * Connect hedging from the current candidate (raceConnects): resolves with the path whose
   * connection came up first, now the current one, or with undefined when none did in `budgetMs`,
   * the cursor then standing on the last path raced. Connects that failed during the race are
   * returned in order; those that fail after it go to `onLateFailure`.
   */
  async hedge(
    hedgeMs: number,
    budgetMs: number,
    onLateFailure: (failure: ConnectFailure) => void,
  ): Promise<{ winner: PathRuntime | undefined; failures: ConnectFailure[] }> {
    const paths = this.paths;
    const race = await raceConnects(paths, this.#index, hedgeMs, budgetMs, (index, error) =>
      onLateFailure({ path: paths[index]!, error }),
    );
    this.#index = race.winner ?? race.lastStarted;
    return {
      winner: race.winner === undefined ? undefined : paths[race.winner],
      failures: race.failures.map(({ index, error }) => ({ path: paths[index]!, error })),
    };
  }
}
