import { AttemptError } from '../attempt-error.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';

export interface HedgeResult {
  /** Index of the first candidate whose connection was established, or undefined when none was in time. */
  winner: number | undefined;
  /** Candidates whose connect failed outright (refused, reset, timed out), in order. Nothing was sent on them. */
  failures: { index: number; error: AttemptError }[];
  /** The highest candidate index a connect was started on. */
  lastStarted: number;
}

/**
 * Connect hedging (route `hedgeConnectMs`): connect on candidate `start`; whenever no connection is
 * up after another `hedgeMs` (or a connect fails), start connecting on the next candidate too. The
 * first established connection wins. Only connections are raced, never requests: the caller sends
 * on the winner alone, so the request's bytes go out once. Candidates whose transport cannot
 * connect separately, or whose breaker is not available, are not hedged onto.
 * Losing connects are not cut short: one that comes up later stays as an idle connection of its
 * path, and one that fails later (its path's connect timeout) is passed to `onLateFailure`, so a
 * link whose handshakes hang counts against its breaker and later payments stop waiting on it.
 */
export function raceConnects(
  candidates: readonly PathRuntime[],
  start: number,
  hedgeMs: number,
  budgetMs: number,
  onLateFailure: (index: number, error: AttemptError) => void = () => {},
): Promise<HedgeResult> {
  return new Promise((resolve) => {
    // Never aborted: a connect ends by itself, within its path's connect timeout.
    const signal = new AbortController().signal;
    let pending = 0;
    const failures: HedgeResult['failures'] = [];
    let next = start;
    let lastStarted = start;
    let done = false;
    let hedgeTimer: ReturnType<typeof setTimeout> | undefined;

    const finish = (winner: number | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(hedgeTimer);
      clearTimeout(budgetTimer);
      resolve({ winner, failures: failures.sort((a, b) => a.index - b.index), lastStarted });
    };

    const startNext = (): boolean => {
      while (next < candidates.length) {
        const index = next++;
        const path = candidates[index]!;
        const connect = path.transport.connect?.bind(path.transport);
        if (!connect || !path.breaker.isAvailable) continue;
        lastStarted = index;
        pending++;
        connect(signal).then(
          () => {
            pending--;
            finish(index);
          },
          (error: unknown) => {
            pending--;
            const failure =
              error instanceof AttemptError
                ? error
                : new AttemptError('connect_reset', 'not_sent', String(error), { cause: error });
            if (done) {
              onLateFailure(index, failure);
              return;
            }
            failures.push({ index, error: failure });
            clearTimeout(hedgeTimer);
            if (!startNext() && pending === 0) finish(undefined);
            else armHedge();
          },
        );
        return true;
      }
      return false;
    };

    const armHedge = () => {
      clearTimeout(hedgeTimer);
      hedgeTimer = setTimeout(() => {
        if (startNext()) armHedge();
      }, hedgeMs);
    };

    const budgetTimer = setTimeout(() => finish(undefined), budgetMs);
    if (!startNext()) finish(undefined);
    else armHedge();
  });
}
