import { Hono } from 'hono';
import type { Context } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import { MemoryRateLimiter } from '../../../core/rate-limit/rate-limiter.ts';
import { adminAuth } from '../../middleware/admin-auth/index.ts';
import { adminRateLimit } from '../../middleware/admin-auth/admin-rate-limit.ts';
import type { AdminAppEnv, AdminDeps } from './admin-deps.ts';
import { adminDrillRoutes } from './drills.ts';
import { adminPolicyRoutes } from './policy.ts';

export type { AdminDeps } from './admin-deps.ts';

/** Everything under /admin: authenticated (bearer tokens), viewer reads, operator changes. See docs/ops.md. */
export function adminRoutes(
  deps: AdminDeps,
  clientAddress?: (c: Context) => string | undefined,
): Hono<AdminAppEnv> {
  const app = new Hono<AdminAppEnv>();
  const limiter = deps.rateLimiter ?? new MemoryRateLimiter();
  const settings = () => deps.control.current().policy.admin;
  app.use(
    '*',
    adminAuth({
      authenticator: deps.authenticator,
      audit: deps.audit,
      limiter,
      failedAuthLimit: () => settings().failedAuthAudit,
      ...(clientAddress ? { clientAddress } : {}),
    }),
  );
  app.use('*', adminRateLimit({ limiter, limit: () => settings().rateLimit }));
  // Who the token belongs to, so a client (the dashboard) can show the role and hide what it may not do.
  app.get('/session', (c) => c.json(c.get('admin')));
  app.route('/', adminPolicyRoutes(deps));
  app.route('/', adminDrillRoutes(deps));
  app.get('/audit', async (c) => {
    const limit = Number(c.req.query('limit') ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
      throw new PaypathError('invalid_request', 400, 'limit must be 1..1000', {
        details: { field: 'limit' },
      });
    return c.json({ records: await deps.audit.recent(limit) });
  });
  app.all('*', (c) => {
    throw new PaypathError(
      'route_not_found',
      404,
      `no admin endpoint ${c.req.method} ${new URL(c.req.url).pathname}`,
    );
  });
  return app;
}
