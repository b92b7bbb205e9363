import { canonicalJson } from '../policy/hash.ts';
import type { Policy } from '../policy/schema.ts';

/** One changed field. `field` names it, with list entries that have an id written as `paths[id=kt-fiber]`. */
export interface PolicyChange {
  field: string;
  op: 'added' | 'removed' | 'changed';
  from?: unknown;
  to?: unknown;
}

export interface PolicyDiff {
  changed: boolean;
  changes: PolicyChange[];
  summary: {
    pathsAdded: string[];
    pathsRemoved: string[];
    pathsChanged: string[];
    routesAdded: string[];
    routesRemoved: string[];
    routesChanged: string[];
  };
}

/** Field-level difference between two validated policies (defaults filled in, so only real changes show). */
export function diffPolicies(from: Policy, to: Policy): PolicyDiff {
  const changes: PolicyChange[] = [];
  walk(from, to, '', changes);
  const ids = (list: { id: string }[]) => new Set(list.map((x) => x.id));
  const summarise = (before: { id: string }[], after: { id: string }[], key: string) => {
    const a = ids(before);
    const b = ids(after);
    return {
      added: [...b].filter((id) => !a.has(id)),
      removed: [...a].filter((id) => !b.has(id)),
      changed: [...b].filter(
        (id) => a.has(id) && changes.some((c) => c.field.startsWith(`${key}[id=${id}]`)),
      ),
    };
  };
  const paths = summarise(from.paths, to.paths, 'paths');
  const routes = summarise(from.routes, to.routes, 'routes');
  return {
    changed: changes.length > 0,
    changes,
    summary: {
      pathsAdded: paths.added,
      pathsRemoved: paths.removed,
      pathsChanged: paths.changed,
      routesAdded: routes.added,
      routesRemoved: routes.removed,
      routesChanged: routes.changed,
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hasIds(value: unknown): value is { id: string }[] {
  return Array.isArray(value) && value.every((x) => isObject(x) && typeof x.id === 'string');
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

function walk(a: unknown, b: unknown, field: string, out: PolicyChange[]): void {
  if (canonicalJson(a) === canonicalJson(b)) return;
  if (a === undefined) return void out.push({ field, op: 'added', to: b });
  if (b === undefined) return void out.push({ field, op: 'removed', from: a });
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      walk(a[key], b[key], join(field, key), out);
    return;
  }
  if (hasIds(a) && hasIds(b) && a.length + b.length > 0) {
    const before = new Map(a.map((x) => [x.id, x]));
    const after = new Map(b.map((x) => [x.id, x]));
    for (const [id, entry] of before)
      if (!after.has(id)) out.push({ field: `${field}[id=${id}]`, op: 'removed', from: entry });
    for (const [id, entry] of after) {
      const old = before.get(id);
      if (old === undefined) out.push({ field: `${field}[id=${id}]`, op: 'added', to: entry });
      else walk(old, entry, `${field}[id=${id}]`, out);
    }
    const order = (list: { id: string }[]) =>
      list.map((x) => x.id).filter((id) => before.has(id) && after.has(id));
    if (order(a).join() !== order(b).join())
      out.push({
        field: `${field}(order)`,
        op: 'changed',
        from: a.map((x) => x.id),
        to: b.map((x) => x.id),
      });
    return;
  }
  out.push({ field, op: 'changed', from: a, to: b });
}
