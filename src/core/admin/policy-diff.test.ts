import { describe, expect, it } from 'vitest';
import { validatePolicyObject } from '../policy/parse.ts';
import type { Policy, PolicyInput } from '../policy/schema.ts';
import { diffPolicies } from './policy-diff.ts';
import { disallowedUpstreams, effectiveAllowlist, upstreamAllowed } from './upstream-allowlist.ts';
import { policyFromObject } from '../../../test/support/policy.ts';

const base = (): PolicyInput => ({
  version: 1,
  paths: [
    { id: 'a', upstream: 'https://pay.example' },
    { id: 'b', upstream: 'https://pay.example/v2' },
  ],
  routes: [{ id: 'payments', match: { method: 'POST', path: '/v1/payments' }, paths: ['a', 'b'] }],
});

const parse = (input: PolicyInput): Policy => policyFromObject(input);

describe('policy diff', () => {
  it('names changed fields by id, and added, removed and reordered entries', () => {
    const next = base();
    next.paths[0]!.grade = 'warm';
    next.paths.push({ id: 'c', upstream: 'https://pay.example' });
    next.routes[0]!.paths = ['b', 'a', 'c'];
    const diff = diffPolicies(parse(base()), parse(next));
    expect(diff.changed).toBe(true);
    expect(diff.changes).toContainEqual({
      field: 'paths[id=a].grade',
      op: 'changed',
      from: 'hot',
      to: 'warm',
    });
    expect(diff.changes).toContainEqual(
      expect.objectContaining({ field: 'paths[id=c]', op: 'added' }),
    );
    expect(diff.changes).toContainEqual({
      field: 'routes[id=payments].paths',
      op: 'changed',
      from: ['a', 'b'],
      to: ['b', 'a', 'c'],
    });
    expect(diff.summary).toMatchObject({
      pathsAdded: ['c'],
      pathsChanged: ['a'],
      routesChanged: ['payments'],
    });
    expect(diffPolicies(parse(base()), parse(base()))).toMatchObject({
      changed: false,
      changes: [],
    });
  });
});

describe('upstream allowlist', () => {
  it('matches origins exactly and prefixes on path boundaries', () => {
    expect(upstreamAllowed('https://pay.example/v2', ['https://pay.example'])).toBe(true);
    expect(upstreamAllowed('https://pay.example.evil.test', ['https://pay.example'])).toBe(false);
    expect(upstreamAllowed('http://pay.example', ['https://pay.example'])).toBe(false);
    expect(upstreamAllowed('https://pay.example:8443', ['https://pay.example'])).toBe(false);
    expect(upstreamAllowed('https://pay.example/v2', ['https://pay.example/v2/'])).toBe(true);
    expect(upstreamAllowed('https://pay.example/v2x', ['https://pay.example/v2/'])).toBe(false);
  });

  it('defaults to the origins of the trusted policy and reports offending fields', () => {
    const trusted = parse(base());
    expect(effectiveAllowlist(trusted)).toEqual(['https://pay.example']);
    const edited = base();
    edited.paths[1]!.upstream = 'http://169.254.169.254';
    expect(disallowedUpstreams(parse(edited), effectiveAllowlist(trusted))).toEqual([
      { field: 'paths[1].upstream', url: 'http://169.254.169.254' },
    ]);
  });

  it('schema rejects allowlist entries that are neither origins nor prefixes ending in /', () => {
    const input = base();
    input.admin = { upstreamAllowlist: ['https://pay.example/v2', 'ftp://x'] };
    const result = validatePolicyObject(input);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.issues.map((i) => i.path)).toEqual([
        'admin.upstreamAllowlist[0]',
        'admin.upstreamAllowlist[1]',
      ]);
  });
});
