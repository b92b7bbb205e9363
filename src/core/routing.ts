import type { RouteConfig } from './policy/schema.ts';

/** The first route whose method and path (exact, or prefix) match; routes are checked in policy order. */
export function matchRoute(routes: readonly RouteConfig[], method: string, pathname: string): RouteConfig | undefined {
  return routes.find(
    (route) =>
      route.match.method === method &&
      (route.match.path !== undefined ? pathname === route.match.path : pathname.startsWith(route.match.pathPrefix ?? '/')),
  );
}
