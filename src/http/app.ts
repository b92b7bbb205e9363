import { Hono } from 'hono';
import type { Gateway } from '../core/gateway.ts';
import { PaypathError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import type { RequestRecord } from '../core/request-record.ts';
import { requestRecorder } from './middleware/request-record.ts';
import { adminRoutes, type AdminDeps } from './routes/admin/index.ts';
import { dashboardRoutes, type DashboardDeps } from './routes/dashboard.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes, type MetricsSource } from './routes/metrics.ts';
import { proxyRoutes } from './routes/proxy.ts';

export interface AppDeps {
  /** Returns the gateway for the running policy; read once per request, so a policy swap never changes a request midway. */
  gateway: () => Gateway;
  logger?: Logger;
  /** Called once per finished request (logs, metrics, drills). */
  onRequest?: (record: RequestRecord) => void;
  /** Mounts the admin API under /admin. Without it, /admin is not served. */
  admin?: AdminDeps;
  /** Serves GET /metrics. */
  metrics?: MetricsSource;
  /** Merged into GET /status (policy revision, reload errors, drills…). */
  statusExtras?: () => Record<string, unknown>;
  /** Serves the ops dashboard under /dashboard. */
  dashboard?: DashboardDeps;
}

export type AppEnv = { Variables: { gateway: Gateway; route: string | undefined; requestId: string } };

/** The paypath HTTP app, the same on every runtime: runtime-specific parts come in through `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const logger = deps.logger ?? silentLogger;
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    const gateway = deps.gateway();
    c.set('gateway', gateway);
    // Counted as in flight on this gateway, so a policy apply closes its removed paths only after this request.
    const leave = gateway.enter();
    try {
      await next();
    } finally {
      leave();
    }
  });
  app.use(requestRecorder(deps.onRequest));

  app.onError((error, c) => {
    const extra: Record<string, string> = {};
    c.res.headers.forEach((value, name) => {
      extra[name] = value;
    });
    if (error instanceof PaypathError) {
      if (error.status >= 500) logger.warn({ code: error.code, route: c.get('route'), status: error.status }, error.message);
      return error.toResponse(extra);
    }
    // Never echo internals (or request data) to the client; the log gets the error without the body.
    logger.error({ err: { name: error.name, message: error.message, stack: error.stack }, route: c.get('route') }, 'unhandled error');
    return new PaypathError('internal_error', 500, 'internal error').toResponse(extra);
  });

  app.route('/', healthRoutes(deps.statusExtras));
  if (deps.metrics) app.route('/', metricsRoutes(deps.metrics));
  if (deps.admin) app.route('/admin', adminRoutes(deps.admin));
  if (deps.dashboard) app.route('/', dashboardRoutes(deps.dashboard));
  app.route('/', proxyRoutes());
  return app;
}
