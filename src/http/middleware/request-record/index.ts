import type { MiddlewareHandler } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import type { RequestRecord } from '../../../core/request-record.ts';
import type { AppEnv } from '../../env.ts';
import { requestRoute, requestUrl } from '../../request-url.ts';

/** A client's request id is kept when it is short and tame (and cannot be a card number); otherwise one is made. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Gives every request an id (`x-request-id`) and reports it, once finished, as a RequestRecord. */
export function requestRecorder(
  onRequest: ((record: RequestRecord) => void) | undefined,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const supplied = c.req.header('x-request-id');
    const requestId =
      supplied !== undefined && CLIENT_REQUEST_ID.test(supplied) && !/\d{12,}/.test(supplied)
        ? supplied
        : crypto.randomUUID();
    c.set('requestId', requestId);
    await next();
    c.res.headers.set('x-request-id', requestId);
    if (!onRequest) return;
    const routeId = c.get('route');
    const error = c.error;
    const path = c.res.headers.get('x-paypath-path') ?? undefined;
    const status = c.res.status;
    let attempts = Number(c.res.headers.get('x-paypath-attempts') ?? 0);
    let outcome = 'ok';
    if (error instanceof PaypathError) {
      outcome = error.code;
      const listed = error.details.attempts;
      if (Array.isArray(listed)) attempts = listed.length;
    } else if (error !== undefined) {
      outcome = 'internal_error';
    } else if (status >= 500 || status === 429) {
      outcome = path === undefined ? `http_${status}` : `upstream_${status}`;
    } else if (status >= 400 && routeId === undefined) {
      outcome = `http_${status}`;
    }
    const declared = Number(c.req.header('content-length') ?? 0);
    const answered = Number(c.res.headers.get('content-length') ?? 0);
    try {
      onRequest({
        requestId,
        method: c.req.method,
        pathname: requestUrl(c).pathname,
        route: routeId,
        // The route the proxy matched (routeId is its id), cached for this request: no search of the policy.
        routeClass: routeId === undefined ? undefined : requestRoute(c)?.class,
        path,
        attempts,
        status,
        outcome,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        requestBytes: Number.isFinite(declared) ? declared : 0,
        responseBytes: Number.isFinite(answered) ? answered : 0,
        // A stored answer carries Idempotent-Replayed and no path; a processor's own replay comes with its path.
        replayed: path === undefined && c.res.headers.get('idempotent-replayed') === 'true',
      });
    } catch {
      // Observers must not break an answered request.
    }
  };
}
