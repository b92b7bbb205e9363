import { AttemptError, type AttemptErrorCode } from '../attempt-error.ts';
import type { AttemptOutcome } from '../breaker/attribution.ts';
import type { RouteConfig } from '../policy/schema.ts';
import type { UpstreamRequest, UpstreamResponse } from '../transport.ts';
import { AttemptTimer } from './attempt-timer.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';

/** Used when a route fixes no attemptTimeoutMs. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 2_000;

/** What one attempt came to: an answer (2xx-4xx, or a 5xx/429 that counts against the path) or a failure. */
export type Attempt =
  | { outcome: Extract<AttemptOutcome, 'answered'>; code: string; response: UpstreamResponse }
  | { outcome: Extract<AttemptOutcome, 'upstream_error'>; code: string; response: UpstreamResponse }
  | { outcome: Extract<AttemptOutcome, 'not_sent' | 'sent_no_answer'>; code: AttemptErrorCode };

/**
 * The per-attempt timeout: the route's if it fixes one, else the path's adaptive one. An adaptive
 * timeout exists to move on to another path quickly; on the last usable path there is nowhere to
 * move on to, and giving up early would turn a slow answer into a failure (seen when a spliced
 * carrier floods the processor with held requests), so it waits up to the deadline.
 */
export function attemptTimeoutMs(
  route: RouteConfig,
  path: PathRuntime,
  lastUsable: boolean,
  remainingMs: number,
): number {
  const adaptive = lastUsable ? undefined : path.attemptTimeoutMs?.(route);
  return Math.min(
    route.attemptTimeoutMs ?? adaptive ?? (lastUsable ? remainingMs : DEFAULT_ATTEMPT_TIMEOUT_MS),
    remainingMs,
  );
}

/**
 * Sends the request once over the path and says what came of it; never rejects. Only an adaptive
 * timeout is cut short when the path falls silent (`lastUsable` false): a fixed one is the
 * operator's, and on the last usable path there is nowhere to go.
 */
export async function sendAttempt(
  route: RouteConfig,
  path: PathRuntime,
  request: UpstreamRequest,
  options: { timeoutMs: number; startedAt: number; lastUsable: boolean },
): Promise<Attempt> {
  const timer = new AttemptTimer(options.timeoutMs);
  const unwatch =
    route.attemptTimeoutMs === undefined && !options.lastUsable
      ? path.watchSilence?.(route, options.startedAt, (reason) => timer.giveUp(reason))
      : undefined;
  try {
    path.noteAsked?.();
    const response = await path.transport.send(request, {
      signal: timer.signal,
      bodyTimeoutMs: route.deadlineMs,
    });
    const code = `http_${response.status}`;
    if (response.status >= 500 || response.status === 429)
      return { outcome: 'upstream_error', code, response };
    return { outcome: 'answered', code, response };
  } catch (error) {
    const failure =
      error instanceof AttemptError
        ? error
        : new AttemptError('unexpected', 'sent', String(error), { cause: error });
    return {
      outcome: failure.wire === 'not_sent' ? 'not_sent' : 'sent_no_answer',
      code: failure.code,
    };
  } finally {
    timer.dispose();
    unwatch?.();
  }
}
