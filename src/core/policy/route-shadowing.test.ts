import { describe, expect, it } from 'vitest';
import { policyFromObject } from '../../../test/support/policy.ts';
import { routeShadowingWarnings } from './route-shadowing.ts';

const policy = (routes: { id: string; match: Record<string, string> }[]) =>
  policyFromObject({
    version: 1,
    paths: [{ id: 'a', upstream: 'http://127.0.0.1:1' }],
    routes: routes.map((r) => ({ ...r, paths: ['a'] })),
  });

describe('routeShadowingWarnings', () => {
  it('says nothing when exact routes come before the prefixes covering them', () => {
    expect(
      routeShadowingWarnings(
        policy([
          { id: 'payments', match: { method: 'POST', path: '/v1/payments' } },
          { id: 'captures', match: { method: 'POST', pathPrefix: '/v1/payments/' } },
          { id: 'reads', match: { method: 'GET', pathPrefix: '/' } },
        ]),
      ),
    ).toEqual([]);
  });

  it('names a prefix listed before an exact route it covers, its slash variant included', () => {
    const warnings = routeShadowingWarnings(
      policy([
        { id: 'captures', match: { method: 'POST', pathPrefix: '/v1/payments/' } },
        { id: 'payments', match: { method: 'POST', path: '/v1/payments' } },
      ]),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^routes\[0\] "captures" \(POST pathPrefix \/v1\/payments\/\) is listed before routes\[1\] "payments"/,
    );
  });

  it('names routes no request reaches: a repeated exact path, a prefix inside an earlier one', () => {
    const warnings = routeShadowingWarnings(
      policy([
        { id: 'one', match: { method: 'POST', path: '/v1/refunds' } },
        { id: 'two', match: { method: 'POST', path: '/v1/Refunds/' } },
        { id: 'billing', match: { method: 'POST', pathPrefix: '/v1/billing/' } },
        { id: 'batches', match: { method: 'POST', pathPrefix: '/v1/Billing/batches/' } },
      ]),
    );
    expect(warnings).toEqual([
      'routes[1] "two" (POST path /v1/Refunds/) is never matched: routes[0] "one" has the same path',
      'routes[3] "batches" (POST pathPrefix /v1/Billing/batches/) is never matched: routes[2] "billing" (pathPrefix /v1/billing/) is listed before it and covers it',
    ]);
  });
});
