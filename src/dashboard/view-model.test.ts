import { describe, expect, it } from 'vitest';
import { egressLine, pathView, recentFailureRate, redundancyBanner, sparkline, timeline, type Sample } from './view-model.ts';

describe('redundancyBanner', () => {
  it('is green at N+2, amber with a repair call at N+1, red at N+0, and down with no path', () => {
    expect(redundancyBanner({ healthy: 3, total: 3, level: 'N+2' })).toMatchObject({ tone: 'ok', level: 'N+2' });
    const one = redundancyBanner({ healthy: 2, total: 3, level: 'N+1' });
    expect(one).toMatchObject({ tone: 'warn', level: 'N+1' });
    expect(one.text).toContain('one spare left: repair now');
    expect(redundancyBanner({ healthy: 1, total: 3, level: 'N+0' })).toMatchObject({ tone: 'bad', level: 'N+0' });
    expect(redundancyBanner({ healthy: 0, total: 3, level: 'down' })).toMatchObject({ tone: 'down', level: 'down' });
  });
});

describe('pathView', () => {
  it('shows a path that answers nothing as down, even with its breaker closed (every carrier cut)', () => {
    expect(pathView({ state: 'closed', silentSince: null })).toEqual({ tone: 'ok', label: 'closed' });
    expect(pathView({ state: 'closed' })).toEqual({ tone: 'ok', label: 'closed' }); // a gateway without the field
    expect(pathView({ state: 'closed', silentSince: '2026-12-03T09:00:00.000Z' })).toEqual({ tone: 'down', label: 'closed · not answering' });
    expect(pathView({ state: 'open', silentSince: '2026-12-03T09:00:00.000Z' })).toEqual({ tone: 'down', label: 'open · not answering' });
    expect(pathView({ state: 'open', silentSince: null })).toEqual({ tone: 'bad', label: 'open' });
  });
});

describe('recentFailureRate', () => {
  const sample = (at: number, requests: number, failures: number): Sample => ({ at, requests, failures, p50: null, p99: null });
  it('counts only the window, and null without traffic', () => {
    const samples = [sample(0, 100, 50), sample(50_000, 110, 50), sample(100_000, 120, 55)];
    expect(recentFailureRate(samples, 100_000)).toBeCloseTo(5 / 10);
    expect(recentFailureRate([sample(0, 5, 0), sample(1_000, 5, 0)], 1_000)).toBeNull();
  });
  it('restarts from zero when the counters went back (path rebuilt by a policy change)', () => {
    expect(recentFailureRate([sample(0, 100, 10), sample(1_000, 4, 1)], 1_000)).toBeCloseTo(1 / 4);
  });
});

describe('timeline', () => {
  it('merges transitions and drills of the last hour, newest first', () => {
    const now = 10_000_000;
    const events = timeline(
      [
        { id: 'kt', state: 'open', grade: 'hot', requests: 0, failures: 0, latencyMs: { p50: null, p99: null }, lastError: null, transitions: [
          { from: 'closed', to: 'open', at: now - 1_000, reason: 'failures' },
          { from: 'open', to: 'closed', at: now - 4_000_000, reason: 'old' },
        ] },
      ],
      // As /status shows it: no actor (an admin token's name), the trigger instead.
      [{ id: 'drill-1', path: 'skt', trigger: 'api', status: 'passed', startedAt: new Date(now - 60_000).toISOString(), endedAt: new Date(now - 50_000).toISOString(), durationMs: 10_000, requests: 10, failed: 0 }],
      now,
    );
    expect(events.map((e) => e.kind)).toEqual(['transition', 'drill']);
    expect(events[0]!.text).toContain('closed → open');
    expect(events[1]!.text).toContain('passed');
    expect(events[1]!.text).toContain('(api, 10 requests');
  });
});

describe('sparkline', () => {
  it('places samples by time, scales values into the box and skips gaps and old samples', () => {
    const points = [{ at: 500, value: 3 }, { at: 1_000, value: 0 }, { at: 1_500, value: null }, { at: 2_000, value: 10 }];
    expect(sparkline(points, 1_000, 2_000, 100, 22, 10)).toBe('0.0,21.0 100.0,1.0');
  });
});

describe('egress on the dashboard', () => {
  it('says why the banner counts fewer paths, and shows each path\'s egress on its card', () => {
    const banner = redundancyBanner({ healthy: 1, total: 1, level: 'N+0' }, [{ egress: 's1 via 10.201.1.1', paths: ['kt-fiber', 'skt-fiber', 'lgu-lte'] }]);
    expect(banner).toMatchObject({ tone: 'bad', level: 'N+0' });
    expect(banner.text).toContain('kt-fiber, skt-fiber, lgu-lte all leave by s1 via 10.201.1.1');
    const egress = { state: 'known', interface: 's1', gateway: '10.201.1.1', source: '10.201.3.2', reason: null, sharedWith: ['kt-fiber'] };
    expect(egressLine(egress)).toEqual({ tone: 'warn', text: 'leaves by s1 via 10.201.1.1 from 10.201.3.2, the same way as kt-fiber' });
    expect(egressLine({ ...egress, interface: 's3', gateway: '10.201.3.1', sharedWith: [] })).toEqual({ tone: 'ok', text: 'leaves by s3 via 10.201.3.1 from 10.201.3.2' });
    expect(egressLine({ ...egress, state: 'no_address', reason: 'interface wwan0 has no address' })).toEqual({ tone: 'bad', text: 'interface wwan0 has no address' });
    expect(egressLine(undefined)).toBeNull();
  });
});
