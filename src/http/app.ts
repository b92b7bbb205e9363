import { Hono, type Context } from 'hono';
import type { Gateway } from '../core/gateway.ts';
import { PaypathError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import type { RequestRecord } from '../core/request-record.ts';
import { requestRecorder } from './middleware/request-record/index.ts';
import { idempotencyKey } from './middleware/idempotency/key.ts';
import { requestRoute } from './request-url.ts';
import { readWebRequestBody } from './middleware/request-body/index.ts';
import type { AppEnv, RequestBodyReader } from './env.ts';
import { BodyAllowance } from './body-allowance.ts';
import { ByteBudget } from '../core/limits/byte-budget.ts';
import { adminRoutes, type AdminDeps } from './routes/admin/index.ts';
import { dashboardRoutes, type DashboardDeps } from './routes/dashboard.ts';
import type { Sha256Hex } from '../core/idempotency/fingerprint.ts';
import type { IdempotencyStore } from '../core/idempotency/store.ts';
import type { ForwardQueue } from '../core/queue/forward-queue.ts';
import { MemoryRateLimiter, type RateLimiter } from '../core/rate-limit/rate-limiter.ts';
import { bodyLimits, headerLimits } from './middleware/input-limits/index.ts';
import type { MerchantKeyring } from './middleware/merchant-auth/keyring.ts';
import { merchantAuth } from './middleware/merchant-auth/index.ts';
import { MemoryNonceStore, type NonceStore } from './middleware/merchant-auth/nonce-store.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes, type MetricsSource } from './routes/metrics.ts';
import { proxyRoutes } from './routes/proxy.ts';
import { queueRoutes } from './routes/queue.ts';

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
  /** SHA-256 (hex) for idempotency fingerprints. Default: Web Crypto; Node injects its faster synchronous hash. */
  sha256?: Sha256Hex;
  /** Idempotency records; without one, keys still go upstream but nothing is replayed. */
  idempotencyStore?: IdempotencyStore;
  /** Store-and-forward queue for routes with whenAllDown: queue. */
  queue?: ForwardQueue;
  /** Extra top-level sections of GET /status, each computed per request (e.g. queue depth). */
  statusSections?: Record<string, () => unknown>;
  /** Merchant authentication and rate limits (docs/security.md). Default: no keys, in-memory stores. */
  security?: SecurityDeps;
  /** Reads request bodies. Default: through the Web Request; Node reads its own stream, which costs less. */
  readRequestBody?: RequestBodyReader;
  /** Bounds the request-body bytes all requests hold at once. Default: one for this app, sized by the running policy's limits.bodyBudgetBytes. */
  bodyBudget?: ByteBudget;
}

export interface SecurityDeps {
  /** The merchant keyring for the running policy (from env or a 0600 file, loaded by the runtime adapter). */
  merchantKeys?: () => MerchantKeyring | undefined;
  /** Default: in memory (one instance). */
  nonceStore?: NonceStore;
  /** Default: in memory (one instance). */
  rateLimiter?: RateLimiter;
  /** The client's network address, for limiting failed authentication per client. */
  clientAddress?: (c: Context<AppEnv>) => string | undefined;
  /** Clock for signature windows, in ms. Default: Date.now. */
  now?: () => number;
}

/** The paypath HTTP app, the same on every runtime: runtime-specific parts come in through `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const logger = deps.logger ?? silentLogger;
  const app = new Hono<AppEnv>();

  const readRequestBody = deps.readRequestBody ?? readWebRequestBody;
  const bodyBudget =
    deps.bodyBudget ?? new ByteBudget(() => deps.gateway().policy.limits.bodyBudgetBytes);
  app.use(async (c, next) => {
    const gateway = deps.gateway();
    c.set('gateway', gateway);
    c.set('readRequestBody', readRequestBody);
    const declared = c.req.header('content-length');
    const allowance = new BodyAllowance(
      bodyBudget,
      gateway.policy.limits.bodyBudgetWaitMs,
      declared === undefined ? undefined : Number(declared),
    );
    c.set('bodyAllowance', allowance);
    // Counted as in flight on this gateway, so a policy apply closes its removed paths only after this request.
    const leave = gateway.enter();
    try {
      await next();
    } finally {
      leave();
      allowance.release();
    }
  });
  app.use(requestRecorder(deps.onRequest));

  app.onError((error, c) => {
    const extra: Record<string, string> = {};
    c.res.headers.forEach((value, name) => {
      extra[name] = value;
    });
    withIdempotencyKey(c, extra);
    if (error instanceof PaypathError) {
      if (error.status >= 500)
        logger.warn(
          { code: error.code, route: c.get('route'), status: error.status },
          error.message,
        );
      return error.toResponse(extra);
    }
    // Never echo internals (or request data) to the client; the log gets the error without the body.
    logger.error(
      {
        err: { name: error.name, message: error.message, stack: error.stack },
        route: c.get('route'),
      },
      'unhandled error',
    );
    return new PaypathError('internal_error', 500, 'internal error').toResponse(extra);
  });

  const security = deps.security ?? {};
  app.use(headerLimits());
  const requestBodies = () => ({
    budgetBytes: bodyBudget.capacity,
    heldBytes: bodyBudget.used,
    waiting: bodyBudget.waiting,
  });
  app.route('/', healthRoutes({ ...deps.statusSections, requestBodies }, deps.statusExtras));
  if (deps.metrics) app.route('/', metricsRoutes(deps.metrics));
  if (deps.admin) {
    const admin = { rateLimiter: security.rateLimiter, ...deps.admin };
    app.route(
      '/admin',
      adminRoutes(
        admin,
        security.clientAddress as ((c: Context) => string | undefined) | undefined,
      ),
    );
  }
  if (deps.dashboard) app.route('/', dashboardRoutes(deps.dashboard));
  if (deps.queue) app.route('/', queueRoutes(deps.queue));
  // Registered after paypath's own endpoints (which answer first and stay open) and before the
  // proxy: only requests forwarded to a route are authenticated and inspected.
  app.use(
    merchantAuth({
      keys: security.merchantKeys ?? (() => undefined),
      nonces: security.nonceStore ?? new MemoryNonceStore(),
      limiter: security.rateLimiter ?? new MemoryRateLimiter(),
      logger,
      clientAddress: security.clientAddress,
      now: security.now,
    }),
  );
  app.use(bodyLimits());
  app.route(
    '/',
    proxyRoutes({
      idempotencyStore: deps.idempotencyStore,
      queue: deps.queue,
      logger,
      sha256: deps.sha256,
      clientAddress: security.clientAddress,
    }),
  );
  return app;
}

/**
 * Errors raised before the proxy settled the key (413, 431, 415, authentication…) carry it too:
 * the key goes back on every answer of a route, so a client can always retry under it.
 */
function withIdempotencyKey(c: Context<AppEnv>, headers: Record<string, string>): void {
  try {
    const route = requestRoute(c);
    if (route === undefined) return;
    const name = route.idempotency.header.toLowerCase();
    if (headers[name] !== undefined) return;
    headers[name] = idempotencyKey(route, c.req.raw.headers).key;
  } catch {
    // An invalid key, or none on a route that requires one: nothing to give back.
  }
}
