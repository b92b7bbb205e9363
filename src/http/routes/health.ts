import { Hono } from 'hono';
import type { AppEnv } from '../app.ts';

/** Probes for monitors and load balancers: liveness, readiness, and the full status document. */
export function healthRoutes(statusExtras?: () => Record<string, unknown>): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const gateway = c.get('gateway');
    const ready = gateway.isReady();
    return c.json(
      { ready, routes: gateway.status().routes.map((r) => ({ id: r.id, usablePaths: r.usablePaths })) },
      ready ? 200 : 503,
    );
  });
  app.get('/status', (c) => {
    const status = c.get('gateway').status();
    if (!statusExtras) return c.json(status);
    const extras = statusExtras();
    return c.json({ ...status, ...extras, policy: { ...status.policy, ...(extras.policy as object | undefined) } });
  });
  return app;
}
