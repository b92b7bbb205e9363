import type * as z from 'zod';

/** What zod 4 keeps on every schema, as far as finding an object's fields needs it. */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  in?: z.ZodType;
}

const def = (schema: z.ZodType): SchemaDef =>
  (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** Field names the schema allows in the object at `segments` (empty when that is no object). */
export function knownFields(schema: z.ZodType, segments: readonly PropertyKey[]): string[] {
  const found = new Set<string>();
  const visit = (node: z.ZodType, rest: readonly PropertyKey[], depth: number) => {
    if (depth > 64) return;
    const d = def(node);
    if (d.innerType) return visit(d.innerType, rest, depth + 1);
    if (d.type === 'pipe' && d.in) return visit(d.in, rest, depth + 1);
    if (d.type === 'union' && d.options)
      return d.options.forEach((option) => visit(option, rest, depth + 1));
    if (rest.length === 0) {
      if (d.type === 'object' && d.shape) for (const name of Object.keys(d.shape)) found.add(name);
      return;
    }
    const [head, ...tail] = rest;
    if (d.type === 'object' && d.shape && typeof head === 'string' && d.shape[head])
      return visit(d.shape[head], tail, depth + 1);
    if (d.type === 'array' && d.element && typeof head === 'number')
      return visit(d.element, tail, depth + 1);
    if (d.type === 'record' && d.valueType) return visit(d.valueType, tail, depth + 1);
  };
  visit(schema, segments, 0);
  return [...found];
}

/**
 * The known name a misspelt one most likely meant: same letters ignoring case, or within a few
 * edits (a third of the name, at least one), else none; a tie goes to the earlier name.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  // No field name is this long: nothing to suggest, and no quadratic work on a hostile key.
  if (name.length > MAX_NAME_LENGTH) return undefined;
  const lower = name.toLowerCase();
  const allowed = Math.max(1, Math.floor(name.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    if (Math.abs(candidate.length - name.length) > allowed) continue;
    const distance =
      candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= allowed ? best.name : undefined;
}

const MAX_NAME_LENGTH = 64;

/** Levenshtein distance, with a swap of two neighbouring letters counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
