import { describe, expect, it } from 'vitest';
import { computeRedundancy } from './redundancy.ts';

const path = (id: string, healthy: boolean, shareRisk: string[] = []) => ({
  id,
  healthy,
  shareRisk,
});

describe('computeRedundancy', () => {
  it('counts three independent healthy paths as N+2', () => {
    expect(computeRedundancy([path('a', true), path('b', true), path('c', true)])).toEqual({
      healthy: 3,
      total: 3,
      level: 'N+2',
    });
  });

  it('drops a level per lost independent path and reports down at zero', () => {
    expect(computeRedundancy([path('a', false), path('b', true), path('c', true)]).level).toBe(
      'N+1',
    );
    expect(computeRedundancy([path('a', false), path('b', false), path('c', true)]).level).toBe(
      'N+0',
    );
    expect(computeRedundancy([path('a', false), path('b', false), path('c', false)]).level).toBe(
      'down',
    );
  });

  it('counts paths sharing a risk tag once, transitively', () => {
    const result = computeRedundancy([
      path('a', true, ['ahyeon']),
      path('b', true, ['ahyeon', 'conduit-7']),
      path('c', true, ['conduit-7']),
      path('d', true),
    ]);
    expect(result).toEqual({ healthy: 2, total: 2, level: 'N+1' });
  });

  it('treats a shared-risk group as healthy while any member is', () => {
    const result = computeRedundancy([
      path('a', false, ['x']),
      path('b', true, ['x']),
      path('c', false),
    ]);
    expect(result).toEqual({ healthy: 1, total: 2, level: 'N+0' });
  });

  it('counts paths that leave by the same interface and next hop once, like a shared tag', () => {
    const egress = (id: string, how: string | null, shareRisk: string[] = []) => ({
      id,
      healthy: true,
      shareRisk,
      egress: how,
    });
    expect(
      computeRedundancy([
        egress('a', 's1 via 10.0.1.1'),
        egress('b', 's1 via 10.0.1.1'),
        egress('c', 's1 via 10.0.1.1'),
      ]),
    ).toEqual({ healthy: 1, total: 1, level: 'N+0' });
    // Another next hop on the same interface is another router (carrier); unknown egress groups nothing.
    expect(
      computeRedundancy([
        egress('a', 's1 via 10.0.1.1'),
        egress('b', 's1 via 10.0.1.254'),
        egress('c', null),
        egress('d', null),
      ]).level,
    ).toBe('N+3');
    // Egress and tags link transitively: a shares egress with b, b a tag with c.
    expect(
      computeRedundancy([
        egress('a', 's1'),
        egress('b', 's1', ['x']),
        egress('c', 's2', ['x']),
        egress('d', 's3'),
      ]).level,
    ).toBe('N+1');
  });
});

describe('computeRedundancy with paths not proven recently', () => {
  const unproven = (id: string, shareRisk: string[] = []) => ({
    id,
    healthy: true,
    proven: false,
    shareRisk,
  });

  it('leaves a healthy but unproven spare out of the level, and names it', () => {
    expect(computeRedundancy([path('a', true), path('b', true), unproven('c')])).toEqual({
      healthy: 3,
      total: 3,
      level: 'N+1',
      unproven: ['c'],
    });
    expect(computeRedundancy([path('a', true), unproven('b'), unproven('c')])).toEqual({
      healthy: 3,
      total: 3,
      level: 'N+0',
      unproven: ['b', 'c'],
    });
  });

  it('is N+0, not down, while every healthy path is unproven; an unhealthy one is not listed', () => {
    expect(computeRedundancy([unproven('a'), { ...unproven('b'), healthy: false }])).toEqual({
      healthy: 1,
      total: 2,
      level: 'N+0',
      unproven: ['a'],
    });
  });

  it('counts a shared-risk group as proven when one healthy member is', () => {
    expect(
      computeRedundancy([path('a', true, ['x']), unproven('b', ['x']), path('c', true)]),
    ).toMatchObject({ level: 'N+1', unproven: ['b'] });
  });
});
