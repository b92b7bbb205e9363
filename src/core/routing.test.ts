import { describe, expect, it } from 'vitest';
import { policyFromObject } from '../../test/support/policy.ts';
import { matchRoute, normalisedPath } from './routing.ts';

const routes = (order: 'exact-first' | 'prefix-first') => {
  const payments = {
    id: 'payments',
    match: { method: 'POST', path: '/v1/payments' },
    paths: ['a'],
  };
  const captures = {
    id: 'captures',
    match: { method: 'POST', pathPrefix: '/v1/payments/' },
    paths: ['a'],
  };
  const everything = { id: 'everything', match: { method: 'POST', pathPrefix: '/' }, paths: ['a'] };
  return policyFromObject({
    version: 1,
    paths: [{ id: 'a', upstream: 'http://127.0.0.1:1' }],
    routes:
      order === 'exact-first' ? [payments, captures, everything] : [captures, payments, everything],
  }).routes;
};

describe('matchRoute', () => {
  for (const order of ['exact-first', 'prefix-first'] as const) {
    it(`gives a path that normalises to an exact route's path to that route, not to a prefix (${order})`, () => {
      const match = (path: string) => matchRoute(routes(order), 'POST', path)?.id;
      expect(match('/v1/payments')).toBe('payments');
      // What URL parsing leaves of `/v1/payments/x/%2e%2e`, and the trailing slash.
      expect(match(new URL('http://h/v1/payments/x/%2e%2e').pathname)).toBe('payments');
      expect(match('/v1/payments/')).toBe('payments');
      expect(match('/v1/payments//')).toBe('payments');
      expect(match('//v1//payments')).toBe('payments');
      expect(match('/v1/%70ayments')).toBe('payments');
      expect(match('/V1/Payments')).toBe('payments');
      expect(match('/v1/payments;jsessionid=1')).toBe('payments');
      expect(match('/v1/payments/ch_A/capture')).toBe('captures');
      expect(match('/v1/payments%2Fch_A')).toBe('everything');
      expect(matchRoute(routes(order), 'PUT', '/v1/payments')).toBeUndefined();
    });
  }

  it('takes prefix routes in policy order', () => {
    const ordered = policyFromObject({
      version: 1,
      paths: [{ id: 'a', upstream: 'http://127.0.0.1:1' }],
      routes: [
        { id: 'captures', match: { method: 'POST', pathPrefix: '/v1/payments/' }, paths: ['a'] },
        { id: 'v1', match: { method: 'POST', pathPrefix: '/v1/' }, paths: ['a'] },
      ],
    }).routes;
    expect(matchRoute(ordered, 'POST', '/v1/payments/ch_A/capture')?.id).toBe('captures');
    expect(matchRoute(ordered, 'POST', '/v1/refunds')?.id).toBe('v1');
    expect(matchRoute(ordered, 'POST', '/v2/refunds')).toBeUndefined();
  });
});

describe('normalisedPath', () => {
  it('leaves an ordinary path as it is and keeps reserved escapes encoded', () => {
    expect(normalisedPath('/v1/payments/ch_a/capture')).toBe('/v1/payments/ch_a/capture');
    expect(normalisedPath('/v1/a%2Fb%7E')).toBe('/v1/a%2fb~');
  });
});
