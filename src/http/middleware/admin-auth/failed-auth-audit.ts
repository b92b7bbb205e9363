import type { AuditLog } from '../../../core/admin/audit.ts';
import type { BucketLimit, RateLimiter } from '../../../core/rate-limit/rate-limiter.ts';
import { scrubText } from '../../../core/redact.ts';

/** Longest request path kept in a failed-authentication record, in characters. */
export const FAILED_AUTH_PATH_CHARS = 200;
/** All client addresses together may write this many times one address's bucket. */
export const FAILED_AUTH_TOTAL_FACTOR = 5;

/**
 * Method and path as audit records keep them: the path cut to FAILED_AUTH_PATH_CHARS, with its
 * length when cut. Card numbers are masked before the cut: a number cut in two is no longer one
 * the audit log's redaction would recognise, yet its first digits would be kept.
 */
export function boundedRequest(
  method: string,
  path: string,
): { method: string; path: string; pathLength?: number } {
  const kept = {
    method: method.slice(0, 16),
    path: scrubText(path).slice(0, FAILED_AUTH_PATH_CHARS),
  };
  return path.length > FAILED_AUTH_PATH_CHARS ? { ...kept, pathLength: path.length } : kept;
}

export interface FailedAuth {
  reason: 'no_tokens_configured' | 'missing' | 'malformed' | 'invalid_token';
  method: string;
  path: string;
  /** The client's network address, when the runtime knows it. */
  client: string | undefined;
}

/**
 * Writes `auth.failed` records, bounded so that unauthenticated traffic cannot grow the audit log
 * faster than a fixed rate or by more than a few hundred bytes a record: the path is cut to
 * FAILED_AUTH_PATH_CHARS, and records pass a token bucket per client address and one for all
 * addresses. Failures over either are counted, and the count goes into the next record written
 * (`details.suppressed`), so the log still says how many there were.
 */
export class FailedAuthAudit {
  readonly #audit: AuditLog;
  readonly #limiter: RateLimiter;
  readonly #limit: () => BucketLimit;
  #suppressed = 0;

  constructor(options: { audit: AuditLog; limiter: RateLimiter; limit: () => BucketLimit }) {
    this.#audit = options.audit;
    this.#limiter = options.limiter;
    this.#limit = options.limit;
  }

  /** Whether the failure was written (false: only counted). */
  async record(failure: FailedAuth): Promise<boolean> {
    const limit = this.#limit();
    const perClient = await this.#limiter.take(
      `admin-auth-failed:${failure.client ?? 'unknown'}`,
      limit,
    );
    const total = perClient.allowed
      ? await this.#limiter.take('admin-auth-failed:*', {
          ratePerSecond: limit.ratePerSecond * FAILED_AUTH_TOTAL_FACTOR,
          burst: limit.burst * FAILED_AUTH_TOTAL_FACTOR,
        })
      : perClient;
    if (!total.allowed) {
      this.#suppressed++;
      return false;
    }
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    await this.#audit.append({
      time: new Date().toISOString(),
      actor: 'anonymous',
      action: 'auth.failed',
      outcome: 'denied',
      details: {
        reason: failure.reason,
        client: failure.client ?? null,
        ...boundedRequest(failure.method, failure.path),
        ...(suppressed > 0 ? { suppressed } : {}),
      },
    });
    return true;
  }
}
