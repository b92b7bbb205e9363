import type { AttemptErrorCode } from '../attempt-error.ts';
import { PaypathError } from '../errors.ts';
import type { RouteConfig } from '../policy/schema.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';
import type { AttemptRecord } from './types.ts';

/** The errors a request ends with when no path gave an answer to return. */

function summarise(a: AttemptRecord) {
  return { path: a.pathId, outcome: a.outcome, code: a.code };
}

export function outcomeUnknown(
  key: string,
  attempts: AttemptRecord[],
  code: AttemptErrorCode,
): PaypathError {
  return new PaypathError(
    'outcome_unknown',
    502,
    `the request was sent but no answer came back (${code}); it may have been processed. Retry with the same idempotency key to learn the outcome.`,
    { details: { idempotencyKey: key, attempts: attempts.map(summarise) } },
  );
}

export function deadlineExceeded(route: RouteConfig, attempts: AttemptRecord[]): PaypathError {
  return new PaypathError(
    'deadline_exceeded',
    504,
    `no path answered within the route's deadline of ${route.deadlineMs} ms; nothing was sent`,
    {
      details: { attempts: attempts.map(summarise) },
    },
  );
}

export function noPathAvailable(
  route: RouteConfig,
  candidates: readonly PathRuntime[],
  attempts: AttemptRecord[],
  retryAfterS: number,
): PaypathError {
  return new PaypathError(
    'no_path_available',
    503,
    `no path can carry route "${route.id}" now; nothing was sent`,
    {
      details: {
        route: route.id,
        paths: candidates.map((p) => ({ id: p.config.id, state: p.breaker.state })),
        attempts: attempts.map(summarise),
      },
      headers: { 'retry-after': String(retryAfterS) },
    },
  );
}
