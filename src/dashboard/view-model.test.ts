import { describe, expect, it } from 'vitest';
import type { PathStatus } from './api.ts';
import { formatDuration } from './format.ts';
import { outageEvents, policyFileNotice, timeline } from './timeline.ts';
import {
  drillProofLine,
  egressLine,
  pathView,
  paymentSuccess,
  recentFailureRate,
  redundancyBanner,
  sparkline,
  trafficShares,
  type Sample,
} from './view-model.ts';

const NOW = Date.parse('2026-12-03T10:00:00.000Z');
const iso = (ago: number) => new Date(NOW - ago).toISOString();
function pathStatus(over: Partial<PathStatus> = {}): PathStatus {
  return {
    id: 'kt',
    state: 'closed',
    grade: 'hot',
    requests: 10,
    failures: 0,
    latencyMs: { p50: 12, p99: 30 },
    lastError: null,
    lastProbe: null,
    silentSince: null,
    transitions: [],
    ...over,
  };
}

describe('redundancyBanner', () => {
  it('is green at N+2, amber with a repair call at N+1, red at N+0, and down with no path', () => {
    expect(redundancyBanner({ healthy: 3, total: 3, level: 'N+2' })).toMatchObject({
      tone: 'ok',
      level: 'N+2',
    });
    const one = redundancyBanner({ healthy: 2, total: 3, level: 'N+1' });
    expect(one).toMatchObject({ tone: 'warn', level: 'N+1' });
    expect(one.text).toContain('one spare left: repair now');
    expect(redundancyBanner({ healthy: 1, total: 3, level: 'N+0' })).toMatchObject({
      tone: 'bad',
      level: 'N+0',
    });
    expect(redundancyBanner({ healthy: 0, total: 3, level: 'down' })).toMatchObject({
      tone: 'down',
      level: 'down',
    });
  });

  it('counts the spares the level counts: healthy paths gone unproven are named, not green', () => {
    const banner = redundancyBanner({
      healthy: 3,
      total: 3,
      level: 'N+0',
      unproven: ['skt-fiber', 'lgu-lte'],
    });
    expect(banner).toMatchObject({ tone: 'bad', level: 'N+0' });
    expect(banner.text).toContain('no spare left');
    expect(banner.text).toContain(
      'not counted, unproven for longer than the policy allows: skt-fiber, lgu-lte',
    );
    expect(
      redundancyBanner({ healthy: 3, total: 3, level: 'N+1', unproven: ['lgu-lte'] }),
    ).toMatchObject({ tone: 'warn', level: 'N+1' });
  });
});

describe('pathView', () => {
  it('shows a path that answers nothing as down, even with its breaker closed (every carrier cut)', () => {
    expect(pathView(pathStatus(), NOW)).toEqual({ tone: 'ok', label: 'up', down: false });
    expect(pathView({ state: 'closed', requests: 3 }, NOW)).toMatchObject({
      tone: 'ok',
      label: 'up',
    }); // a gateway without the fields
    expect(pathView(pathStatus({ silentSince: iso(130_000) }), NOW)).toEqual({
      tone: 'down',
      label: 'down for 2m 10s',
      down: true,
    });
    expect(pathView(pathStatus({ state: 'open', silentSince: iso(5_000) }), NOW)).toMatchObject({
      tone: 'down',
      down: true,
    });
  });

  it('counts an open ⇄ half-open cycle without a success as one outage: down since the path left closed', () => {
    const transitions = [
      { from: 'closed', to: 'open', at: NOW - 130_000, reason: 'failures' },
      { from: 'open', to: 'half-open', at: NOW - 70_000, reason: 'reset' },
      { from: 'half-open', to: 'open', at: NOW - 69_000, reason: 'failures' },
      { from: 'open', to: 'half-open', at: NOW - 9_000, reason: 'reset' },
    ];
    // Half-open is a trial, not a recovery: red and the whole outage's length, not an amber flicker.
    expect(pathView(pathStatus({ state: 'half-open', transitions }), NOW)).toEqual({
      tone: 'bad',
      label: 'down for 2m 10s',
      down: true,
    });
    expect(
      pathView(pathStatus({ state: 'open', transitions: transitions.slice(0, 3) }), NOW),
    ).toEqual({ tone: 'bad', label: 'down for 2m 10s', down: true });
    // An earlier outage that ended does not count towards this one.
    const again = [
      { from: 'closed', to: 'open', at: NOW - 900_000, reason: 'failures' },
      { from: 'half-open', to: 'closed', at: NOW - 800_000, reason: 'success' },
      { from: 'closed', to: 'open', at: NOW - 10_000, reason: 'failures' },
    ];
    expect(pathView(pathStatus({ state: 'open', transitions: again }), NOW).label).toBe(
      'down for 10s',
    );
  });

  it('keeps a path that was down when a drill isolated it down, not amber', () => {
    const isolated = { from: 'open', to: 'isolated', at: NOW - 60_000, reason: 'isolated' };
    expect(
      pathView(
        pathStatus({
          state: 'isolated',
          transitions: [
            { from: 'closed', to: 'open', at: NOW - 130_000, reason: 'failures' },
            isolated,
          ],
        }),
        NOW,
      ),
    ).toEqual({
      tone: 'bad',
      label: 'down for 2m 10s, isolated by a drill',
      down: true,
    });
    // Its start fell out of the kept transitions: down at least since the isolation.
    expect(pathView(pathStatus({ state: 'isolated', transitions: [isolated] }), NOW).label).toBe(
      'down for 1m 0s, isolated by a drill',
    );
    expect(
      pathView(
        pathStatus({
          state: 'isolated',
          transitions: [{ from: 'closed', to: 'isolated', at: NOW - 60_000, reason: 'isolated' }],
        }),
        NOW,
      ),
    ).toEqual({ tone: 'warn', label: 'isolated by a drill', down: false });
  });

  it('does not show a cold path (no traffic, no probe, never proven) as healthy', () => {
    expect(pathView(pathStatus({ requests: 0, lastProbe: null, provenAt: null }), NOW)).toEqual({
      tone: 'muted',
      label: 'untested: no traffic, no probe',
      down: false,
    });
    expect(
      pathView(
        pathStatus({ requests: 0, lastProbe: { at: iso(1_000), latencyMs: 3, error: null } }),
        NOW,
      ).tone,
    ).toBe('ok');
    expect(pathView(pathStatus({ requests: 0, provenAt: iso(1_000) }), NOW).tone).toBe('ok');
  });

  it("shows a drill's isolation in amber, and a degraded path when the gateway reports one", () => {
    expect(pathView(pathStatus({ state: 'isolated' }), NOW)).toEqual({
      tone: 'warn',
      label: 'isolated by a drill',
      down: false,
    });
    expect(pathView(pathStatus({ degradedSince: iso(65_000), badPercent: 23.4 }), NOW)).toEqual({
      tone: 'warn',
      label: 'degraded for 1m 5s, 23 % slow or failed',
      down: false,
    });
  });
});

describe('formatDuration', () => {
  it('reads as a person says it', () => {
    expect(formatDuration(45_000)).toBe('45s');
    expect(formatDuration(130_000)).toBe('2m 10s');
    expect(formatDuration(3 * 3_600_000 + 5 * 60_000)).toBe('3h 5m');
    expect(formatDuration(26 * 3_600_000)).toBe('1d 2h');
  });
});

describe('drillProofLine', () => {
  it('gives the age of the last passing drill, and says when the path no longer counts as a spare', () => {
    expect(
      drillProofLine(pathStatus({ lastPassingDrillAt: iso(190_000), proven: true }), NOW),
    ).toEqual({ tone: 'ok', text: 'last proven by a drill 3m 10s ago' });
    expect(drillProofLine(pathStatus({ lastPassingDrillAt: null, proven: true }), NOW)).toEqual({
      tone: 'muted',
      text: 'never proven by a drill',
    });
    const stale = drillProofLine(
      pathStatus({ lastPassingDrillAt: iso(30 * 3_600_000), proven: false }),
      NOW,
    )!;
    expect(stale.tone).toBe('bad');
    expect(stale.text).toContain('not counted as a spare');
    expect(drillProofLine(pathStatus(), NOW)).toBeNull(); // an older gateway
  });
});

describe('trafficShares', () => {
  const sample = (at: number, requests: number, failures = 0): Sample => ({
    at,
    requests,
    failures,
    p50: null,
    p99: null,
  });
  it('gives each path its share of the traffic carried in the last minute and its rate; failed attempts carry nothing', () => {
    const history = new Map([
      ['kt', [sample(NOW - 90_000, 0), sample(NOW - 10_000, 100), sample(NOW, 130)]],
      ['lte', [sample(NOW - 10_000, 5), sample(NOW, 15)]],
      ['dead', [sample(NOW - 10_000, 50, 40), sample(NOW, 70, 60)]],
      ['skt', [sample(NOW, 7)]],
    ]);
    const shares = trafficShares(history, NOW);
    expect(shares.get('kt')!.share).toBeCloseTo(30 / 40);
    expect(shares.get('kt')!.perSecond).toBeCloseTo(3);
    expect(shares.get('lte')!.share).toBeCloseTo(10 / 40);
    expect(shares.get('dead')).toEqual({ share: 0, perSecond: 0 });
    expect(shares.get('skt')).toEqual({ share: null, perSecond: null });
  });
});

describe('paymentSuccess', () => {
  it("is the share of the last minute's payments the processor answered", () => {
    const ok = paymentSuccess(
      [
        { at: NOW - 70_000, total: 0, answered: 0 },
        { at: NOW - 50_000, total: 100, answered: 100 },
        { at: NOW, total: 300, answered: 290 },
      ],
      NOW,
    );
    expect(ok.rate).toBeCloseTo(190 / 200);
    expect(ok.tone).toBe('warn');
    expect(ok.text).toContain('190 of 200');
    expect(
      paymentSuccess(
        [
          { at: NOW - 1_000, total: 4, answered: 4 },
          { at: NOW, total: 4, answered: 4 },
        ],
        NOW,
      ),
    ).toMatchObject({ tone: 'muted', rate: null });
    expect(paymentSuccess([], NOW).text).toContain('no figures');
  });
});

describe('policyFileNotice', () => {
  it('names the invalid file and its first issue, and is silent while the file is fine', () => {
    const file = {
      file: '/etc/paypath/policy.yaml',
      lastError: {
        at: iso(5_000),
        issues: [
          { path: 'routes[0].attemptTimeoutMs', message: 'must be positive' },
          { path: 'x', message: 'y' },
        ],
      },
    };
    const notice = policyFileNotice(file, NOW)!;
    expect(notice).toContain('/etc/paypath/policy.yaml on disk is INVALID');
    expect(notice).toContain('routes[0].attemptTimeoutMs: must be positive (and 1 more)');
    expect(policyFileNotice({ file: '/etc/paypath/policy.yaml', lastError: null }, NOW)).toBeNull();
    expect(policyFileNotice(undefined, NOW)).toBeNull();
  });
});

describe('recentFailureRate', () => {
  const sample = (at: number, requests: number, failures: number): Sample => ({
    at,
    requests,
    failures,
    p50: null,
    p99: null,
  });
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
  it("folds an outage's breaker churn into one line, ongoing or recovered", () => {
    const churn = [
      { from: 'closed', to: 'open', at: NOW - 600_000, reason: 'failures' },
      { from: 'open', to: 'half-open', at: NOW - 540_000, reason: 'reset' },
      { from: 'half-open', to: 'open', at: NOW - 539_000, reason: 'failures' },
      { from: 'open', to: 'half-open', at: NOW - 479_000, reason: 'reset' },
      { from: 'half-open', to: 'open', at: NOW - 478_000, reason: 'failures' },
      { from: 'open', to: 'half-open', at: NOW - 420_000, reason: 'reset' },
      { from: 'half-open', to: 'closed', at: NOW - 419_000, reason: 'success' },
      { from: 'closed', to: 'open', at: NOW - 130_000, reason: 'failures' },
      { from: 'open', to: 'half-open', at: NOW - 70_000, reason: 'reset' },
    ];
    const events = outageEvents(pathStatus({ state: 'half-open', transitions: churn }), NOW);
    expect(events).toHaveLength(2);
    expect(events[0]!.text).toBe('kt recovered after 3m 1s down (failures, 2 failed retries)');
    expect(events[1]).toMatchObject({ tone: 'bad', kind: 'outage' });
    expect(events[1]!.text).toContain('kt down since');
    expect(events[1]!.text).toContain('for 2m 10s (failures)');
    // The status keeps only the latest transitions: an outage whose start fell off is "at least" that long.
    const cut = outageEvents(
      pathStatus({
        state: 'open',
        transitions: [{ from: 'half-open', to: 'open', at: NOW - 60_000, reason: 'failures' }],
      }),
      NOW,
    );
    expect(cut[0]!.text).toContain('for at least 1m 0s');
    // A drill's isolation is the drill's line, not an outage.
    expect(
      outageEvents(
        pathStatus({
          transitions: [
            { from: 'closed', to: 'isolated', at: NOW - 5_000, reason: 'isolated' },
            { from: 'isolated', to: 'closed', at: NOW - 1_000, reason: 'drill' },
          ],
        }),
        NOW,
      ),
    ).toEqual([]);
  });

  it('keeps the line of an outage that a drill isolates, during the drill and after it', () => {
    const cut = { from: 'closed', to: 'open', at: NOW - 130_000, reason: 'failures' };
    const isolated = { from: 'open', to: 'isolated', at: NOW - 60_000, reason: 'isolated' };
    const during = outageEvents(
      pathStatus({ state: 'isolated', transitions: [cut, isolated] }),
      NOW,
    );
    expect(during).toEqual([
      expect.objectContaining({ kind: 'outage', tone: 'bad', at: NOW - 130_000 }),
    ]);
    expect(during[0]!.text).toContain('kt down since');
    expect(during[0]!.text).toContain('for 2m 10s (failures)');
    const after = outageEvents(
      pathStatus({
        state: 'open',
        transitions: [
          cut,
          isolated,
          { from: 'isolated', to: 'open', at: NOW - 10_000, reason: 'isolation-ended' },
        ],
      }),
      NOW,
    );
    expect(after).toHaveLength(1);
    expect(after[0]!.text).toContain('for 2m 10s (failures)');
    // The outage's start fell out of the kept transitions: the isolation says the path was down already.
    const partial = outageEvents(pathStatus({ state: 'isolated', transitions: [isolated] }), NOW);
    expect(partial).toHaveLength(1);
    expect(partial[0]!.text).toContain('for at least 1m 0s');
    // Down while isolated, then back: one outage, recovered.
    const recovered = outageEvents(
      pathStatus({
        transitions: [
          cut,
          isolated,
          { from: 'isolated', to: 'closed', at: NOW - 10_000, reason: 'isolation-ended' },
        ],
      }),
      NOW,
    );
    expect(recovered.map((e) => e.text)).toEqual(['kt recovered after 2m 0s down (failures)']);
  });

  it('merges outages, multi-path drills, policy changes and an invalid policy file of the last hour, newest first', () => {
    const events = timeline(
      [
        pathStatus({
          state: 'open',
          transitions: [
            { from: 'open', to: 'closed', at: NOW - 4_000_000, reason: 'old' },
            { from: 'closed', to: 'open', at: NOW - 1_000, reason: 'failures' },
          ],
        }),
      ],
      // As /status shows it: no actor (an admin token's name), the trigger instead.
      [
        {
          id: 'drill-2',
          path: 'kt',
          paths: ['kt', 'skt'],
          trigger: 'api',
          status: 'running',
          startedAt: iso(2_000),
          durationMs: 10_000,
        },
        {
          id: 'drill-1',
          path: 'kt',
          paths: ['kt', 'skt'],
          trigger: 'api',
          status: 'passed',
          startedAt: iso(60_000),
          endedAt: iso(50_000),
          durationMs: 10_000,
          requests: 10,
          failed: 0,
          carriedBy: { lte: 10, kt: 0 },
        },
      ],
      NOW,
      undefined,
      {
        revisions: [
          { revision: 2, appliedAt: iso(30_000), source: 'file' },
          { revision: 3, appliedAt: iso(20_000), source: 'api', actor: 'alice' },
        ],
        fileErrors: [
          {
            file: 'policy.yaml',
            lastError: { at: iso(10_000), issues: [{ path: 'version', message: 'Expected 1' }] },
          },
        ],
      },
    );
    expect(events.map((e) => e.kind)).toEqual([
      'outage',
      'drill',
      'policy',
      'policy',
      'policy',
      'drill',
    ]);
    expect(events[1]!.text).toBe('drill drill-2 isolating kt + skt (api)');
    expect(events[2]!.text).toBe(
      'policy file policy.yaml is invalid: version: Expected 1; the running policy is kept',
    );
    expect(events[3]!.text).toBe('policy revision 3 applied by alice');
    expect(events[4]!.text).toBe('policy revision 2 reloaded from the policy file');
    expect(events[5]!.text).toBe(
      'drill drill-1 on kt + skt passed (api, 10 requests, 0 failed; carried by lte 10)',
    );
  });
});

describe('sparkline', () => {
  it('places samples by time, scales values into the box and skips gaps and old samples', () => {
    const points = [
      { at: 500, value: 3 },
      { at: 1_000, value: 0 },
      { at: 1_500, value: null },
      { at: 2_000, value: 10 },
    ];
    expect(sparkline(points, 1_000, 2_000, 100, 22, 10)).toBe('0.0,21.0 100.0,1.0');
  });
});

describe('egress on the dashboard', () => {
  it("says why the banner counts fewer paths, and shows each path's egress on its card", () => {
    const banner = redundancyBanner({ healthy: 1, total: 1, level: 'N+0' }, [
      { egress: 's1 via 10.201.1.1', paths: ['kt-fiber', 'skt-fiber', 'lgu-lte'] },
    ]);
    expect(banner).toMatchObject({ tone: 'bad', level: 'N+0' });
    expect(banner.text).toContain('kt-fiber, skt-fiber, lgu-lte all leave by s1 via 10.201.1.1');
    const egress = {
      state: 'known',
      interface: 's1',
      gateway: '10.201.1.1',
      source: '10.201.3.2',
      reason: null,
      sharedWith: ['kt-fiber'],
    };
    expect(egressLine(egress)).toEqual({
      tone: 'warn',
      text: 'leaves by s1 via 10.201.1.1 from 10.201.3.2, the same way as kt-fiber',
    });
    expect(
      egressLine({ ...egress, interface: 's3', gateway: '10.201.3.1', sharedWith: [] }),
    ).toEqual({ tone: 'ok', text: 'leaves by s3 via 10.201.3.1 from 10.201.3.2' });
    expect(
      egressLine({ ...egress, state: 'no_address', reason: 'interface wwan0 has no address' }),
    ).toEqual({ tone: 'bad', text: 'interface wwan0 has no address' });
    expect(egressLine(undefined)).toBeNull();
  });
});
