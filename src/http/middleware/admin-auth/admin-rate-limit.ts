import type { MiddlewareHandler } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import type { BucketLimit, RateLimiter } from '../../../core/rate-limit/rate-limiter.ts';
import type { AdminEnv } from './index.ts';

/**
 * A token bucket per admin token (after authentication): 429 `admin_rate_limited` with Retry-After
 * beyond it. Keeps one token, however privileged, from keeping the admin API (and the policy
 * parser behind it) busy. The limit is read per request, so a policy reload changes it at once.
 */
export function adminRateLimit(options: {
  limiter: RateLimiter;
  limit: () => BucketLimit;
}): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const { name } = c.get('admin');
    const limit = options.limit();
    const taken = await options.limiter.take(`admin-token:${name}`, limit);
    if (!taken.allowed) {
      throw new PaypathError(
        'admin_rate_limited',
        429,
        `admin token "${name}" is over its rate of ${limit.ratePerSecond}/s (burst ${limit.burst}); retry in ${taken.retryAfterSeconds} s`,
        {
          headers: { 'retry-after': String(taken.retryAfterSeconds) },
          details: { retryAfterSeconds: taken.retryAfterSeconds, limit },
        },
      );
    }
    await next();
  };
}
