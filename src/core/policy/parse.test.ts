import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policyJsonSchema } from './json-schema.ts';
import { formatFieldPath, parsePolicy, validatePolicyObject } from './parse.ts';
import { policyHash } from './hash.ts';

const MINIMAL = `version: 1
paths:
  - id: a
    upstream: https://pay.example
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [a]
`;

describe('parsePolicy', () => {
  it('fills documented defaults', () => {
    const result = parsePolicy(MINIMAL);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.policy.paths[0]).toMatchObject({ grade: 'hot', cost: 0, shareRisk: [], connectTimeoutMs: 1000 });
    expect(result.policy.breaker).toEqual({ windowMs: 10000, errorThresholdPercentage: 50, volumeThreshold: 5, consecutiveFailures: 5, resetTimeoutMs: 5000 });
    expect(result.policy.routes[0]).toMatchObject({
      class: 'other',
      deadlineMs: 8000,
      whenAllDown: 'reject',
      idempotency: { header: 'Idempotency-Key', upstreamHonors: false },
    });
  });

  it('reports every issue with a field path and a position', () => {
    const result = parsePolicy(MINIMAL.replace('paths: [a]', 'paths: [a, a, b]'));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: 'routes[0].paths[1]', message: 'path "a" is listed twice', line: 8, column: 16 },
      { path: 'routes[0].paths[2]', message: 'unknown path "b" (expected one of: a)', line: 8, column: 19 },
    ]);
  });

  it('takes a drill of one path or of several, and names what is wrong with either', () => {
    const withDrills = (drills: string) => parsePolicy(`${MINIMAL}  - id: backup\n    match: { method: POST, path: /v1/backup }\n    paths: [a]\ndrills: ${drills}\n`);
    const ok = withDrills('[{ path: a, every: 6h, durationMs: 1000 }, { paths: [a], every: 1d, durationMs: 1000 }]');
    if (!ok.ok) throw new Error(JSON.stringify(ok.issues));
    expect(ok.policy.drills[1]!.paths).toEqual(['a']);
    const bad = withDrills('[{ paths: [a, a, b], every: 6h, durationMs: 1000 }, { path: a, paths: [a], every: 6h, durationMs: 1000 }]');
    if (bad.ok) throw new Error('parsed');
    expect(bad.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['drills[1]: expected exactly one of path or paths']);
    const unknown = withDrills('[{ paths: [a, a, b], every: 6h, durationMs: 1000 }]');
    if (unknown.ok) throw new Error('parsed');
    expect(unknown.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['drills[0].paths[1]: path "a" is listed twice', 'drills[0].paths[2]: unknown path "b" (expected one of: a)']);
  });

  it('flags a route that an earlier route shadows', () => {
    const text = MINIMAL + `  - id: later
    match: { method: POST, path: /v1/payments }
    paths: [a]
`;
    const result = parsePolicy(text);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(['routes[1].match']);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) bomb.push(`${'b'.repeat(i + 1)}: &${'b'.repeat(i + 1)} [${Array(10).fill(`*${i === 0 ? 'a' : 'b'.repeat(i)}`).join(', ')}]`);
    const result = parsePolicy(bomb.join('\n'));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]!.message).toMatch(/alias/i);
  });

  it('validates objects (as the admin API will) without positions', () => {
    const result = validatePolicyObject({ version: 1, paths: [], routes: [] });
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(['paths', 'routes']);
  });

  it('formats field paths as in the docs', () => {
    expect(formatFieldPath(['routes', 1, 'paths', 2])).toBe('routes[1].paths[2]');
  });

  it('hashes equal policies alike whatever their key order', async () => {
    const a = parsePolicy(MINIMAL);
    const b = parsePolicy(MINIMAL.replace('  - id: a\n    upstream: https://pay.example', '  - upstream: https://pay.example\n    id: a'));
    if (!a.ok || !b.ok) throw new Error('fixtures invalid');
    expect(await policyHash(a.policy)).toBe(await policyHash(b.policy));
    const c = parsePolicy(MINIMAL.replace('pay.example', 'pay2.example'));
    if (!c.ok) throw new Error('fixture invalid');
    expect(await policyHash(c.policy)).not.toBe(await policyHash(a.policy));
  });

  it('keeps policies/schema.json in step with the zod schema (run `npm run schema`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../policies/schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(policyJsonSchema());
  });
});
