import type { Context } from 'hono';
import type { RouteConfig } from '../core/policy/schema.ts';
import type { AppEnv } from './env.ts';

/**
 * The request's URL, parsed once per request. The recorder, the input limits, merchant
 * authentication and the proxy all need its path; each parsed c.req.url again (about 2 % of the
 * gateway's CPU per payment).
 */
export function requestUrl<E extends AppEnv>(c: Context<E>): URL {
  const ctx = c as unknown as Context<AppEnv>;
  let url = ctx.get('url');
  if (url === undefined) {
    url = new URL(ctx.req.url);
    ctx.set('url', url);
  }
  return url;
}

/** The policy route matching this request (method and path) on the request's gateway, matched once per request. */
export function requestRoute<E extends AppEnv>(c: Context<E>): RouteConfig | undefined {
  const ctx = c as unknown as Context<AppEnv>;
  let route = ctx.get('policyRoute');
  if (route === undefined) {
    route = ctx.get('gateway').matchRoute(ctx.req.method, requestUrl(ctx).pathname) ?? null;
    ctx.set('policyRoute', route);
  }
  return route ?? undefined;
}
