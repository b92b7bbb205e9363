import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';

/** Probes for monitors and load balancers: liveness, readiness, and the full status document. */
export function healthRoutes(
  statusSections: Record<string, () => unknown> = {},
  statusExtras?: () => Record<string, unknown>,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const gateway = c.get('gateway');
    const ready = gateway.isReady();
    return c.json(
      // Monitors poll this often: only the routes' usable paths, not the whole status document.
      {
        ready,
        routes: gateway.policy.routes.map((r) => ({
          id: r.id,
          usablePaths: gateway.usablePaths(r),
        })),
      },
      ready ? 200 : 503,
    );
  });
  app.get('/status', async (c) => {
    const status = c.get('gateway').status();
    const extra: Record<string, unknown> = {};
    for (const [name, compute] of Object.entries(statusSections)) extra[name] = await compute();
    const extras = statusExtras?.() ?? {};
    return c.json({
      ...status,
      ...extra,
      ...extras,
      policy: { ...status.policy, ...(extras.policy as object | undefined) },
    });
  });
  return app;
}
