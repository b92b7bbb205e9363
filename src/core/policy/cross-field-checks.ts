import type { Policy } from './schema.ts';

/** A problem with one field, named by its path segments (`['routes', 1, 'paths', 2]`). */
export interface FieldProblem {
  segments: PropertyKey[];
  message: string;
}

/** Checks that need the whole document: references between sections, duplicates, timing sanity. */
export function crossFieldProblems(policy: Policy): FieldProblem[] {
  const issues: FieldProblem[] = [];
  const add = (segments: PropertyKey[], message: string) => issues.push({ segments, message });

  const pathIds = new Set<string>();
  policy.paths.forEach((path, i) => {
    if (pathIds.has(path.id)) add(['paths', i, 'id'], `duplicate path id "${path.id}"`);
    pathIds.add(path.id);
  });
  const known = [...pathIds].join(', ');

  policy.paths.forEach((path, i) => {
    if (path.tls !== undefined && !path.upstream.startsWith('https:'))
      add(['paths', i, 'tls'], 'tls settings need an https upstream');
    if (path.bind !== undefined && path.interface !== undefined)
      add(
        ['paths', i, 'interface'],
        'expected bind or interface, not both (interface follows its current address)',
      );
  });
  if (policy.merchants === undefined) {
    policy.routes.forEach((route, i) => {
      if (route.auth === 'merchant')
        add(['routes', i, 'auth'], 'auth "merchant" needs a top-level merchants section');
    });
  }

  const routeIds = new Set<string>();
  policy.routes.forEach((route, i) => {
    if (routeIds.has(route.id)) add(['routes', i, 'id'], `duplicate route id "${route.id}"`);
    routeIds.add(route.id);

    const seen = new Set<string>();
    route.paths.forEach((pathId, j) => {
      if (!pathIds.has(pathId))
        add(['routes', i, 'paths', j], `unknown path "${pathId}" (expected one of: ${known})`);
      else if (seen.has(pathId)) add(['routes', i, 'paths', j], `path "${pathId}" is listed twice`);
      seen.add(pathId);
    });

    if (route.attemptTimeoutMs !== undefined && route.deadlineMs < route.attemptTimeoutMs) {
      add(
        ['routes', i, 'deadlineMs'],
        `deadline (${route.deadlineMs} ms) is shorter than one attempt (attemptTimeoutMs ${route.attemptTimeoutMs} ms)`,
      );
    }
    if (
      route.hedgeConnectMs !== undefined &&
      route.attemptTimeoutMs !== undefined &&
      route.hedgeConnectMs >= route.attemptTimeoutMs
    ) {
      add(
        ['routes', i, 'hedgeConnectMs'],
        `hedgeConnectMs (${route.hedgeConnectMs}) must be shorter than attemptTimeoutMs (${route.attemptTimeoutMs})`,
      );
    }

    const shadowedBy = policy.routes
      .slice(0, i)
      .findIndex((earlier) => shadows(earlier.match, route.match));
    if (shadowedBy >= 0)
      add(
        ['routes', i, 'match'],
        `never matches: routes[${shadowedBy}] (${policy.routes[shadowedBy]?.id}) matches every request it would`,
      );
  });
  if (policy.probe.enabled && policy.redundancy.downAfterMs <= policy.probe.timeoutMs) {
    add(
      ['redundancy', 'downAfterMs'],
      `downAfterMs (${policy.redundancy.downAfterMs}) must be longer than probe.timeoutMs (${policy.probe.timeoutMs}): a probe may take that long to answer`,
    );
  }
  policy.drills.forEach((drill, i) => {
    if (drill.path !== undefined && !pathIds.has(drill.path))
      add(['drills', i, 'path'], `unknown path "${drill.path}" (expected one of: ${known})`);
    drill.paths?.forEach((pathId, j) => {
      if (!pathIds.has(pathId))
        add(['drills', i, 'paths', j], `unknown path "${pathId}" (expected one of: ${known})`);
      else if (drill.paths!.indexOf(pathId) !== j)
        add(['drills', i, 'paths', j], `path "${pathId}" is listed twice`);
    });
  });
  return issues;
}

function shadows(
  earlier: Policy['routes'][number]['match'],
  later: Policy['routes'][number]['match'],
): boolean {
  if (earlier.method !== later.method) return false;
  if (earlier.path !== undefined) return later.path === earlier.path;
  const prefix = earlier.pathPrefix ?? '';
  return (later.path ?? later.pathPrefix ?? '').startsWith(prefix);
}
