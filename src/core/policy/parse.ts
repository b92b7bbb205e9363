import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type * as z from 'zod';
import { checkDocumentBounds, keyProblems, type DocumentLimitName } from './document-bounds.ts';
import { PolicySchema, type Policy } from './schema.ts';
import { explainYamlError } from './yaml-error-text.ts';
import { knownFields, nearestName } from './nearest-field.ts';
import { crossFieldProblems } from './cross-field-checks.ts';

/** One thing wrong with a policy: where (field path, and line/column when known) and what was expected. */
export interface PolicyIssue {
  /** Field path such as `routes[1].paths[2]`; empty for the document as a whole. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** `limit` is set when the document passed one of POLICY_LIMITS and was not parsed any further. */
export type PolicyParseResult =
  | { ok: true; policy: Policy }
  | { ok: false; issues: PolicyIssue[]; limit?: { name: DocumentLimitName | 'time'; max: number } };

/**
 * Limits that keep a hostile policy document (alias bombs, huge files, many keys, deep nesting)
 * from exhausting memory or time; documented in docs/ops.md ("Policy document limits").
 * `maxIssues`: problems reported (each is located in the document, which costs per problem).
 */
export const POLICY_LIMITS = {
  maxBytes: 1_048_576,
  maxNodes: 20_000,
  maxDepth: 32,
  maxAliasCount: 50,
  maxIssues: 100,
} as const;

export function formatFieldPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

export function formatIssue(issue: PolicyIssue, source?: string): string {
  const where = [source, issue.line, issue.column].filter((part) => part !== undefined).join(':');
  const field = issue.path === '' ? '' : `${issue.path}: `;
  return `${where === '' ? '' : `${where}: `}${field}${issue.message}`;
}

/** Parses and validates policy YAML (or JSON, which is YAML). Never throws on bad input. */
export function parsePolicy(text: string): PolicyParseResult {
  const breach = checkDocumentBounds(text, POLICY_LIMITS);
  if (breach)
    return {
      ok: false,
      issues: [{ path: '', message: breach.message }],
      limit: { name: breach.limit, max: breach.max },
    };
  const lineCounter = new LineCounter();
  // logLevel 'error': hostile input (collection keys and the like) must not spray process warnings.
  // uniqueKeys off: the library's check is quadratic in a map's keys; keyProblems does it in one pass.
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: true,
    uniqueKeys: false,
    logLevel: 'error',
  });
  if (doc.errors.length > 0) {
    // The first error only: the parser's later ones mostly follow from it and would mislead.
    const error = doc.errors[0]!;
    const pos = error.linePos?.[0];
    return {
      ok: false,
      issues: [
        {
          path: '',
          message: `YAML syntax error: ${explainYamlError(error, text)}`,
          line: pos?.line,
          column: pos?.col,
        },
      ],
    };
  }
  const keys = keyProblems(doc, lineCounter);
  if (keys.length > 0)
    return {
      ok: false,
      issues: capIssues(
        keys.map((problem) => ({
          path: '',
          ...problem,
          message: `YAML error: ${problem.message}`,
        })),
      ),
    };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: POLICY_LIMITS.maxAliasCount });
  } catch (error) {
    return {
      ok: false,
      issues: [{ path: '', message: `YAML error: ${(error as Error).message}` }],
    };
  }
  return validatePolicyObject(raw, (segments) => locate(doc, lineCounter, segments));
}

/** Validates an already-parsed policy object (from YAML, JSON or the admin API). */
export function validatePolicyObject(
  raw: unknown,
  locateField: (
    segments: readonly PropertyKey[],
  ) => { line: number; column: number } | undefined = () => undefined,
): PolicyParseResult {
  const parsed = PolicySchema.safeParse(raw);
  const issues: Located[] = parsed.success
    ? crossFieldProblems(parsed.data).map(({ segments, message }) => ({
        path: formatFieldPath(segments),
        segments,
        message,
      }))
    : parsed.error.issues.flatMap((issue) => fromZodIssue(issue, raw));
  if (issues.length > 0) {
    // Capped before locating: finding a field's line scans its map, once per issue.
    const shown = capIssues(issues);
    return { ok: false, issues: shown.map((issue) => withPosition(issue, locateField)) };
  }
  return { ok: true, policy: (parsed as { data: Policy }).data };
}

type Located = PolicyIssue & { segments?: readonly PropertyKey[] };

/** The first POLICY_LIMITS.maxIssues issues, and one saying how many more there were. */
function capIssues<T extends PolicyIssue>(issues: T[]): (T | PolicyIssue)[] {
  if (issues.length <= POLICY_LIMITS.maxIssues) return issues;
  return [
    ...issues.slice(0, POLICY_LIMITS.maxIssues),
    {
      path: '',
      message: `and ${issues.length - POLICY_LIMITS.maxIssues} more problems (only the first ${POLICY_LIMITS.maxIssues} are listed)`,
    },
  ];
}

function withPosition(
  issue: Located,
  locateField: (segments: readonly PropertyKey[]) => { line: number; column: number } | undefined,
): PolicyIssue {
  const { segments, ...rest } = issue;
  if (segments === undefined) return rest;
  // An unknown or missing field has no node of its own; point at the nearest enclosing one.
  for (let n = segments.length; n >= 0; n--) {
    const pos = locateField(segments.slice(0, n));
    if (pos) return { ...rest, ...pos };
  }
  return rest;
}

type Ranged = { range?: [number, number, number] | null };

/** Line and column of a field: of its key where it has one (so an unknown field points at its name), else of its value. */
function locate(doc: Document, lineCounter: LineCounter, segments: readonly PropertyKey[]) {
  let node: unknown;
  const parent =
    segments.length === 0 ? undefined : doc.getIn(segments.slice(0, -1) as unknown[], true);
  const last = segments.at(-1);
  if (isMap(parent)) {
    node = parent.items.find(
      (pair) => (isScalar(pair.key) ? pair.key.value : pair.key) === last,
    )?.key;
  }
  node ??= segments.length === 0 ? doc.contents : doc.getIn(segments as unknown[], true);
  const range = (node as Ranged | undefined)?.range;
  if (!range) return undefined;
  const pos = lineCounter.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

function valueAt(raw: unknown, segments: readonly PropertyKey[]): unknown {
  let current = raw;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function fromZodIssue(issue: z.core.$ZodIssue, raw: unknown): Located[] {
  const segments = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const known = knownFields(PolicySchema, segments);
    // Suggestions only for what will be listed (capIssues): a hostile document may hold thousands of keys.
    return issue.keys.map((key, i) => {
      const meant = i < POLICY_LIMITS.maxIssues ? nearestName(key, known) : undefined;
      return {
        path: formatFieldPath([...segments, key]),
        segments: [...segments, key],
        message: meant === undefined ? 'unknown field' : `unknown field (did you mean "${meant}"?)`,
      };
    });
  }
  if (
    issue.code === 'invalid_union' &&
    issue.errors.length > 0 &&
    issue.message === 'Invalid input'
  ) {
    // Report the first branch's reason instead of zod's generic union message.
    const first = issue.errors[0]?.[0];
    if (first)
      return fromZodIssue(
        { ...first, path: [...segments, ...first.path] } as z.core.$ZodIssue,
        raw,
      );
  }
  const value = valueAt(raw, segments);
  let message = issue.message;
  if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    message = `required field is missing (${message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})`;
  } else if (value !== undefined && typeof value !== 'object') {
    message = `${message} (got ${JSON.stringify(value)})`;
  }
  return [{ path: formatFieldPath(segments), segments, message }];
}
