import { Hono } from 'hono';
import { PaypathError } from '../../core/errors.ts';
import { withoutHopByHop } from '../../core/hop-headers.ts';
import type { AppEnv } from '../app.ts';
import { bufferedBody } from '../middleware/request-body.ts';
import { MERCHANT_AUTH_HEADER_NAMES } from '../middleware/merchant-auth/signature.ts';

/** Statuses whose responses carry no body (Fetch spec "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Everything not answered by the gateway itself is matched against the policy's routes and forwarded. */
export function proxyRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.all('*', async (c) => {
    const gateway = c.get('gateway');
    const url = new URL(c.req.url);
    const route = gateway.matchRoute(c.req.method, url.pathname);
    if (!route) {
      throw new PaypathError('route_not_found', 404, `no route matches ${c.req.method} ${url.pathname}`, {
        details: { method: c.req.method, path: url.pathname },
      });
    }
    c.set('route', route.id);
    const { key, generated } = gateway.idempotencyKey(route, c.req.raw.headers);
    // The key goes back on every answer, errors included, so a client can always retry with it.
    c.header(route.idempotency.header, key);
    const body = await bufferedBody(c, route.maxBodyBytes);
    const upstreamHeaders = withoutHopByHop(c.req.raw.headers);
    // Merchant credentials are for paypath only: never handed to a carrier or the processor.
    for (const name of MERCHANT_AUTH_HEADER_NAMES) upstreamHeaders.delete(name);
    const result = await gateway.forward(
      route,
      { method: c.req.method, target: url.pathname + url.search, headers: upstreamHeaders, body },
      key,
    );
    const { response } = result;
    const headers = withoutHopByHop(response.headers);
    headers.set('x-paypath-path', result.pathId);
    headers.set('x-paypath-attempts', String(result.attempts.length));
    if (generated || !headers.has(route.idempotency.header)) headers.set(route.idempotency.header, key);
    const bodyAllowed = !NULL_BODY_STATUS.has(response.status) && c.req.method !== 'HEAD';
    if (!bodyAllowed) await response.body?.cancel().catch(() => {});
    return new Response(bodyAllowed ? response.body : null, { status: response.status, headers });
  });
  return app;
}
