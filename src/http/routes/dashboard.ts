import { Hono, type MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { PaypathError } from '../../core/errors.ts';
import type { AppEnv } from '../env.ts';

/** What the dashboard needs from the runtime: something that serves its built files. */
export interface DashboardDeps {
  /**
   * Serves one built asset for a GET under /dashboard/ (`/dashboard/` is index.html), or calls next()
   * when there is no such file. Injected so src/http stays runtime-neutral (Node: serveStatic).
   */
  assets: MiddlewareHandler<AppEnv>;
}

/**
 * The ops dashboard at /dashboard: static files only. It reads /status and talks to /admin with the
 * operator's own bearer token, so it adds no endpoint and no privilege of its own.
 */
export function dashboardRoutes(deps: DashboardDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/dashboard', (c) => c.redirect('/dashboard/', 308));
  app.use(
    '/dashboard/*',
    // Everything the page loads comes from this origin: no CDN, no inline script. CodeMirror injects
    // <style> elements, hence 'unsafe-inline' for styles only.
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      // HSTS is the TLS terminator's decision for the whole host, not this page's.
      strictTransportSecurity: false,
    }),
    async (c, next) => {
      await next();
      // Vite names bundles by content hash: cache them for good; always revalidate the page itself.
      c.header(
        'cache-control',
        c.req.path.startsWith('/dashboard/assets/')
          ? 'public, max-age=31536000, immutable'
          : 'no-cache',
      );
    },
  );
  app.get('/dashboard/*', deps.assets);
  app.all('/dashboard/*', (c) => {
    throw new PaypathError('route_not_found', 404, `no dashboard file ${c.req.path}`);
  });
  return app;
}
