import { describe, expect, it } from 'vitest';
import { knownFields, nearestName } from './nearest-field.ts';
import { parsePolicy } from './parse.ts';
import { PolicySchema } from './schema.ts';

describe('knownFields', () => {
  it('finds the fields of nested objects, through arrays, defaults and optional parts', () => {
    expect(knownFields(PolicySchema, [])).toContain('redundancy');
    expect(knownFields(PolicySchema, ['routes', 3])).toContain('deadlineMs');
    expect(knownFields(PolicySchema, ['routes', 0, 'idempotency'])).toContain('upstreamHonors');
    expect(knownFields(PolicySchema, ['paths', 0, 'tls'])).toContain('servername');
    expect(knownFields(PolicySchema, ['merchants', 'rateLimits', 'shop-1'])).toEqual([
      'ratePerSecond',
      'burst',
    ]);
    expect(knownFields(PolicySchema, ['version'])).toEqual([]);
  });
});

describe('nearestName', () => {
  it('suggests a name one slip away, ignoring case, and nothing for a stranger', () => {
    expect(nearestName('deadlinMs', ['attemptTimeoutMs', 'deadlineMs'])).toBe('deadlineMs');
    expect(nearestName('grdae', ['grade', 'cost'])).toBe('grade');
    expect(nearestName('ShareRisk', ['shareRisk'])).toBe('shareRisk');
    expect(nearestName('colour', ['version', 'paths', 'routes'])).toBeUndefined();
    expect(nearestName('x', [])).toBeUndefined();
  });
});

describe('unknown fields in a policy', () => {
  it('name the nearest known field where one is close', () => {
    const text = `version: 1
paths:
  - id: a
    upstream: https://pay.example
    grdae: hot
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [a]
    deadlinMs: 100
    idempotency: { upstreamHonours: true }
colour: red
`;
    const result = parsePolicy(text);
    if (result.ok) throw new Error('parsed');
    const messages = Object.fromEntries(result.issues.map((issue) => [issue.path, issue.message]));
    expect(messages).toEqual({
      'paths[0].grdae': 'unknown field (did you mean "grade"?)',
      'routes[0].deadlinMs': 'unknown field (did you mean "deadlineMs"?)',
      'routes[0].idempotency.upstreamHonours': 'unknown field (did you mean "upstreamHonors"?)',
      colour: 'unknown field',
    });
  });
});
