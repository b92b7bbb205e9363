import { normalisedPath, withoutTrailingSlash } from '../routing.ts';
import type { Policy } from './schema.ts';

/**
 * Routes whose place in the policy does not say which requests they get (see matchRoute):
 * - a prefix route listed before an exact route it covers: the exact route takes its path (and
 *   that path with a trailing slash), although the order reads as if the prefix came first;
 * - a route no request can reach: an exact path already taken by an earlier exact route, or a
 *   prefix inside an earlier prefix route's.
 * The policy stays valid; `paypath validate` prints these so that an operator sees them.
 */
export function routeShadowingWarnings(policy: Policy): string[] {
  const warnings: string[] = [];
  const routes = policy.routes.map((route, index) => ({
    route,
    name: `routes[${index}] "${route.id}"`,
    exact:
      route.match.path !== undefined
        ? withoutTrailingSlash(normalisedPath(route.match.path))
        : undefined,
    prefix:
      route.match.pathPrefix !== undefined ? normalisedPath(route.match.pathPrefix) : undefined,
  }));
  for (const [j, later] of routes.entries()) {
    for (const earlier of routes.slice(0, j)) {
      if (earlier.route.match.method !== later.route.match.method) continue;
      const method = later.route.match.method;
      if (
        later.exact !== undefined &&
        earlier.prefix !== undefined &&
        (later.exact.startsWith(earlier.prefix) || `${later.exact}/`.startsWith(earlier.prefix))
      ) {
        const variant = later.exact.startsWith(earlier.prefix)
          ? later.route.match.path
          : `${later.route.match.path}/`;
        warnings.push(
          `${earlier.name} (${method} pathPrefix ${earlier.route.match.pathPrefix}) is listed before ${later.name} (${method} path ${later.route.match.path}) and covers ${variant}: exact paths are matched first (trailing slash, repeated slashes, letter case and escapes aside), so such requests go to "${later.route.id}"; list it first to make the order say so`,
        );
      } else if (later.exact !== undefined && earlier.exact === later.exact) {
        warnings.push(
          `${later.name} (${method} path ${later.route.match.path}) is never matched: ${earlier.name} has the same path`,
        );
      } else if (
        later.prefix !== undefined &&
        earlier.prefix !== undefined &&
        later.prefix.startsWith(earlier.prefix)
      ) {
        warnings.push(
          `${later.name} (${method} pathPrefix ${later.route.match.pathPrefix}) is never matched: ${earlier.name} (pathPrefix ${earlier.route.match.pathPrefix}) is listed before it and covers it`,
        );
      }
    }
  }
  return warnings;
}
