import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePolicy, POLICY_LIMITS, validatePolicyObject } from './parse.ts';
import { policyFrom } from '../../../test/support/policy.ts';

// Property-based fuzzing of the policy parser: whatever the text or object, it answers
// { ok: true } or a list of issues naming a field path; it never throws and never hangs.

const VALID = `version: 1
paths:
  - { id: kt-fiber, upstream: "https://pay.example", grade: hot }
  - { id: skt-fiber, upstream: "https://pay.example", tls: { minVersion: TLSv1.3 } }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    class: payment
    paths: [kt-fiber, skt-fiber]
    idempotency: { upstreamHonors: true }
merchants:
  mode: hmac
  keys: { env: PAYPATH_MERCHANT_KEYS }
  rateLimit: { ratePerSecond: 10, burst: 20 }
limits: { maxJsonDepth: 32 }
`;

function expectCleanResult(result: ReturnType<typeof parsePolicy>): void {
  if (result.ok) return;
  expect(result.issues.length).toBeGreaterThan(0);
  for (const issue of result.issues) {
    expect(typeof issue.path).toBe('string');
    expect(typeof issue.message).toBe('string');
    expect(issue.message.length).toBeGreaterThan(0);
  }
}

/** Sets `value` at a random place in a copy of `base` (a field that exists, or a new one). */
function mutate(base: unknown, steps: string[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (let i = 0; i < steps.length - 1; i++) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const next = node[keys[Math.abs(hash(steps[i]!)) % keys.length]!];
    if (next === null || typeof next !== 'object') break;
    node = next as Record<string, unknown>;
  }
  const keys = Object.keys(node);
  const last = steps.at(-1) ?? '';
  const key =
    keys.length > 0 && hash(last) % 3 !== 0 ? keys[Math.abs(hash(last)) % keys.length]! : last;
  // An array's length cannot take arbitrary values (RangeError); that would test the mutator, not the parser.
  node[Array.isArray(node) && key === 'length' ? 'length-field' : key] = value;
  return copy;
}

function hash(text: string): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return Math.abs(h);
}

describe('policy parser fuzzing', () => {
  const validObject = JSON.parse(JSON.stringify(policyFrom(VALID))) as unknown;

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) =>
        expectCleanResult(parsePolicy(text)),
      ),
      { numRuns: 1_000 },
    );
  });

  it('never throws on YAML-ish text built from policy fragments', () => {
    const token = fc.constantFrom(
      'version: 1\n',
      'paths:\n',
      '  - ',
      'id: a\n',
      'upstream: https://x.example\n',
      'routes:\n',
      '&a ',
      '*a ',
      '[',
      ']',
      '{',
      '}',
      ': ',
      '- ',
      '\n',
      '  ',
      '"',
      "'",
      '!!binary ',
      '!!js/function ',
      '<<: *a\n',
      '? ',
      '|',
      '>',
      '#',
      '%YAML 1.2\n---\n',
      'tls: ',
      'merchants: ',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) =>
        expectCleanResult(parsePolicy(tokens.join(''))),
      ),
      { numRuns: 1_000 },
    );
  });

  it('never throws on arbitrary objects, and names a field for every problem', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4 }), (value) =>
        expectCleanResult(validatePolicyObject(value)),
      ),
      { numRuns: 2_000 },
    );
  });

  it('mutations of a valid policy give ok or issues, never an exception', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 5 }),
        fc.jsonValue({ maxDepth: 2 }),
        (steps, value) => {
          expectCleanResult(validatePolicyObject(mutate(validObject, steps, value)));
        },
      ),
      { numRuns: 1_500 },
    );
  });

  it('refuses an alias bomb cleanly instead of expanding it', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const bomb = `${levels.join('\n')}\nversion: 1\n`;
    const result = parsePolicy(bomb);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]!.message).toMatch(/alias/i);
  });

  it('refuses a policy larger than the size limit without parsing it', () => {
    const result = parsePolicy(`# ${'x'.repeat(POLICY_LIMITS.maxBytes)}\nversion: 1\n`);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.issues[0]!.message).toContain(`larger than ${POLICY_LIMITS.maxBytes} bytes`);
  });
});
