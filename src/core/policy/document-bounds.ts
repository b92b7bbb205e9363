import { isMap, isScalar, Lexer, visit, type Document, type LineCounter } from 'yaml';

/** What a policy document may hold before it is parsed. Defaults in docs/ops.md ("Policy document limits"). */
export interface DocumentLimits {
  maxBytes: number;
  /** Scalars (keys and values), list items and flow collections. */
  maxNodes: number;
  /** Nesting of maps and lists. */
  maxDepth: number;
}

export type DocumentLimitName = 'bytes' | 'nodes' | 'depth';

export interface DocumentLimitBreach {
  limit: DocumentLimitName;
  max: number;
  message: string;
}

// The lexer's control tokens (yaml's CST): the start of a document and of a plain or block scalar.
const DOCUMENT = '\u0002';
const SCALAR = '\u001f';

/**
 * Bounds a YAML (or JSON) document's size, node count and nesting in one pass over the lexer's
 * tokens, before anything is built from them, and stops at the first limit passed. The yaml
 * library's composer and our validation are at least linear in nodes and recurse per nesting level,
 * so bounding these bounds their time and stack. Node counts and depth are slight overestimates
 * (an indentation level counts even where a list shares its key's column): safe for a bound.
 */
export function checkDocumentBounds(
  text: string,
  limits: DocumentLimits,
): DocumentLimitBreach | undefined {
  const bytes = utf8Length(text);
  if (bytes > limits.maxBytes)
    return {
      limit: 'bytes',
      max: limits.maxBytes,
      message: `policy is larger than ${limits.maxBytes} bytes (${bytes})`,
    };
  let nodes = 0;
  let flowDepth = 0;
  let lineIndicators = 0;
  let lineStart = true;
  let indent = 0;
  const indents: number[] = [];
  for (const token of new Lexer().lex(text)) {
    if (token === '\n' || token === '\r\n' || token === DOCUMENT) {
      lineStart = true;
      indent = 0;
      lineIndicators = 0;
      continue;
    }
    if (/^[ \t]+$/.test(token)) {
      if (lineStart) indent = token.length;
      continue;
    }
    if (token.startsWith('#')) continue;
    if (lineStart) {
      lineStart = false;
      if (flowDepth === 0) {
        while (indents.length > 0 && indents.at(-1)! >= indent) indents.pop();
        indents.push(indent);
      }
    }
    const first = token[0];
    if (token === '[' || token === '{') {
      flowDepth++;
      nodes++;
    } else if (token === ']' || token === '}') {
      flowDepth = Math.max(0, flowDepth - 1);
    } else if (token === '-' || token === '?') {
      lineIndicators++;
      nodes++;
    } else if (token === SCALAR || first === '"' || first === "'" || first === '*') {
      nodes++;
    }
    if (nodes > limits.maxNodes) {
      return {
        limit: 'nodes',
        max: limits.maxNodes,
        message: `policy has more than ${limits.maxNodes} nodes (keys, values and list items)`,
      };
    }
    if (indents.length + lineIndicators + flowDepth > limits.maxDepth) {
      return {
        limit: 'depth',
        max: limits.maxDepth,
        message: `policy is nested deeper than ${limits.maxDepth} levels`,
      };
    }
  }
  return undefined;
}

function utf8Length(text: string): number {
  // Cheap when every character is one byte (the common case); exact otherwise.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : new TextEncoder().encode(text).byteLength;
}

/**
 * Duplicate keys and keys that are not plain values (a list or map used as a key), found with one
 * set per map: linear, where the yaml library's own `uniqueKeys` check compares each key with every
 * earlier one (quadratic: 20 000 keys took seconds). A policy has only plain keys.
 */
export function keyProblems(
  doc: Document,
  lineCounter: LineCounter,
): { message: string; line?: number; column?: number }[] {
  const problems: { message: string; line?: number; column?: number }[] = [];
  const at = (node: unknown) => {
    const range = (node as { range?: [number, number, number] | null } | null)?.range;
    if (!range) return {};
    const pos = lineCounter.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  };
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = pair.key;
        if (key !== null && !isScalar(key)) {
          problems.push({
            message: 'map keys must be plain values, not lists, maps or aliases',
            ...at(key),
          });
          continue;
        }
        const value = key === null ? null : key.value;
        if (seen.has(value))
          problems.push({ message: `duplicate key ${JSON.stringify(String(value))}`, ...at(key) });
        seen.add(value);
      }
    },
  });
  return problems;
}
