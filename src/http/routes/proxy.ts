import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { PaypathError } from '../../core/errors.ts';
import { setForwardedFor } from '../../core/forwarded-for.ts';
import { withoutHopByHop } from '../../core/hop-headers.ts';
import { discardBody } from '../../core/transport.ts';
import type { Sha256Hex } from '../../core/idempotency/fingerprint.ts';
import type { IdempotencyStore } from '../../core/idempotency/store.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import type { ForwardQueue } from '../../core/queue/forward-queue.ts';
import type { AppEnv, ProxyEnv } from '../env.ts';
import { requestRoute, requestUrl } from '../request-url.ts';
import { idempotency } from '../middleware/idempotency/index.ts';
import { idempotencyKey } from '../middleware/idempotency/key.ts';
import { MERCHANT_AUTH_HEADER_NAMES } from '../middleware/merchant-auth/signature.ts';
import { bufferedBody } from '../middleware/request-body/index.ts';
import { storeAndForward } from '../middleware/store-and-forward/index.ts';

/** Statuses whose responses carry no body (Fetch spec "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

export interface ProxyDeps {
  /** Idempotency records; without one, keys still go upstream but nothing is replayed here. */
  idempotencyStore?: IdempotencyStore;
  /** Store-and-forward queue for routes with whenAllDown: queue; without one they reject. */
  queue?: ForwardQueue;
  logger?: Logger;
  /** Hash for idempotency fingerprints. Default: Web Crypto SHA-256. */
  sha256?: Sha256Hex;
  /** The address a request came from, added to X-Forwarded-For as the policy says (`forwardedFor`). */
  clientAddress?: (c: Context<AppEnv>) => string | undefined;
}

/** Matches the policy route, settles the idempotency key and buffers the body (413 past the route's limit). */
const resolveProxyRequest =
  (clientAddress: ProxyDeps['clientAddress']): MiddlewareHandler<ProxyEnv> =>
  async (c, next) => {
    const gateway = c.get('gateway');
    const url = requestUrl(c);
    const route = requestRoute(c);
    if (!route) {
      throw new PaypathError(
        'route_not_found',
        404,
        `no route matches ${c.req.method} ${url.pathname}`,
        {
          details: { method: c.req.method, path: url.pathname },
        },
      );
    }
    c.set('route', route.id);
    const { key, generated } = idempotencyKey(route, c.req.raw.headers);
    // The key goes back on every answer, errors included, so a client can always retry with it.
    c.header(route.idempotency.header, key);
    const body = await bufferedBody(c, route.maxBodyBytes);
    const headers = withoutHopByHop(c.req.raw.headers);
    // Merchant credentials are for paypath only: never handed to a carrier or the processor.
    for (const name of MERCHANT_AUTH_HEADER_NAMES) headers.delete(name);
    setForwardedFor(
      headers,
      gateway.policy.forwardedFor,
      clientAddress?.(c as unknown as Context<AppEnv>),
    );
    c.set('proxy', {
      route,
      idempotencyKey: key,
      generatedKey: generated,
      upstream: { method: c.req.method, target: url.pathname + url.search, headers, body },
    });
    await next();
  };

/** Everything not answered by the gateway itself is matched against the policy's routes and forwarded. */
export function proxyRoutes(deps: ProxyDeps = {}): Hono<AppEnv> {
  const logger = deps.logger ?? silentLogger;
  const app = new Hono<ProxyEnv>();
  app.all(
    '*',
    resolveProxyRequest(deps.clientAddress),
    idempotency({ store: deps.idempotencyStore, logger, sha256: deps.sha256 }),
    storeAndForward({ queue: deps.queue, logger }),
    async (c) => {
      const gateway = c.get('gateway');
      const { route, idempotencyKey: key, generatedKey, upstream } = c.get('proxy');
      const result = await gateway.forward(route, upstream, key);
      const { response } = result;
      const headers = withoutHopByHop(response.headers);
      headers.set('x-paypath-path', result.pathId);
      headers.set('x-paypath-attempts', String(result.attempts.length));
      if (result.reconciled) headers.set('x-paypath-reconciled', 'true');
      if (generatedKey || !headers.has(route.idempotency.header))
        headers.set(route.idempotency.header, key);
      const bodyAllowed = !NULL_BODY_STATUS.has(response.status) && c.req.method !== 'HEAD';
      if (!bodyAllowed) await discardBody(response);
      const answer = new Response(bodyAllowed ? response.body : null, {
        status: response.status,
        headers,
      });
      if (bodyAllowed && response.body instanceof Uint8Array)
        c.set('answer', { response: answer, bytes: response.body });
      return answer;
    },
  );
  return app as unknown as Hono<AppEnv>;
}
