import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../core/gateway.ts';
import type { RouteConfig } from '../core/policy/schema.ts';
import type { AppEnv } from './env.ts';
import { requestRoute, requestUrl } from './request-url.ts';

function appWith(routes: Record<string, RouteConfig>) {
  const matched: string[] = [];
  const gateway = {
    matchRoute: (method: string, pathname: string) => {
      matched.push(`${method} ${pathname}`);
      return routes[`${method} ${pathname}`];
    },
  } as unknown as Gateway;
  const app = new Hono<AppEnv>();
  const seen: { sameUrl: boolean; pathname: string; routes: (string | undefined)[] }[] = [];
  app.all('*', (c) => {
    c.set('gateway', gateway);
    const url = requestUrl(c);
    seen.push({
      sameUrl: requestUrl(c) === url,
      pathname: url.pathname,
      routes: [requestRoute(c)?.id, requestRoute(c)?.id],
    });
    return c.text('ok');
  });
  return { app, matched, seen };
}

describe('per-request URL and route', () => {
  it('parses the URL once and matches the route once per request, also when no route matches', async () => {
    const { app, matched, seen } = appWith({
      'POST /v1/payments': { id: 'payments' } as RouteConfig,
    });
    await app.request('/v1/payments?x=1', { method: 'POST' });
    await app.request('/nothing/here', { method: 'POST' });
    expect(seen).toEqual([
      { sameUrl: true, pathname: '/v1/payments', routes: ['payments', 'payments'] },
      { sameUrl: true, pathname: '/nothing/here', routes: [undefined, undefined] },
    ]);
    expect(matched).toEqual(['POST /v1/payments', 'POST /nothing/here']);
  });

  it('matches on the normalised path, as new URL() gives it', async () => {
    const { app, seen } = appWith({});
    await app.request('/v1/a/../payments', { method: 'POST' });
    expect(seen[0]?.pathname).toBe('/v1/payments');
  });
});
