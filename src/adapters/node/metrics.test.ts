import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import packageJson from '../../../package.json' with { type: 'json' };
import type { GatewayStatus } from '../../core/gateway-status.ts';
import { parsePrometheusText, sampleValue } from '../../../test/support/prom-text.ts';
import { PrometheusMetrics, type PrometheusMetricsOptions } from './metrics.ts';

const status = {
  redundancy: { healthy: 2, total: 3, level: 'N+1' },
  paths: [
    {
      id: 'kt-fiber',
      state: 'closed',
      egress: {
        state: 'known',
        interface: 's1',
        gateway: '10.201.1.1',
        source: '10.201.1.2',
        sharedWith: [],
      },
    },
  ],
  routes: [],
  policy: { version: 1, hash: 'h' },
} as unknown as GatewayStatus;

function metrics(extra: Partial<PrometheusMetricsOptions> = {}) {
  const m = new PrometheusMetrics({
    status: () => status,
    policy: () => ({ revision: 1, hash: 'h', fileValid: true, alertBelow: 3 }),
    ...extra,
  });
  return { m, scrape: async () => parsePrometheusText(await m.metrics()) };
}

describe('PrometheusMetrics', () => {
  it('names process metrics once under paypath_ and ends no gauge in _total', async () => {
    const families = await metrics().scrape();
    expect(families.get('paypath_process_cpu_seconds_total')?.type).toBe('counter');
    expect(families.get('paypath_process_resident_memory_bytes')?.type).toBe('gauge');
    expect(families.get('paypath_nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(families.get('paypath_nodejs_active_handles')?.type).toBe('gauge');
    for (const family of families.values()) {
      expect(family.name, family.name).not.toMatch(
        /^paypath_process_process_|^paypath_process_nodejs_/,
      );
      if (family.type !== 'counter') expect(family.name, family.name).not.toMatch(/_total$/);
    }
  });

  it("counts payments and the ones with the processor's definitive answer (a decline included) for /status", () => {
    const { m } = metrics({ processMetrics: false });
    const record = (routeClass: string, outcome: string) =>
      ({
        route: 'r',
        routeClass,
        outcome,
        durationMs: 1,
        requestBytes: 0,
        responseBytes: 0,
      }) as unknown as Parameters<PrometheusMetrics['request']>[0];
    m.request(record('payment', 'ok'));
    m.request(record('payment', 'ok')); // a decline: 402 from the processor is its answer
    m.request(record('payment', 'upstream_503'));
    m.request(record('payment', 'all_paths_down'));
    m.request(record('other', 'all_paths_down'));
    expect(m.paymentTotals()).toEqual({ total: 4, answered: 2 });
  });

  it('leaves process metrics out when asked', async () => {
    const families = await metrics({ processMetrics: false }).scrape();
    expect(
      [...families.keys()].filter(
        (name) => name.startsWith('paypath_process_') || name.startsWith('paypath_nodejs_'),
      ),
    ).toEqual([]);
  });

  it('exposes the build, the alarm threshold and the redundancy as the alarm counts it', async () => {
    const families = await metrics({ processMetrics: false }).scrape();
    expect(families.get('paypath_build_info')?.samples).toEqual([
      {
        name: 'paypath_build_info',
        labels: { version: packageJson.version, node_version: process.version },
        value: 1,
      },
    ]);
    expect(sampleValue(families, 'paypath_redundancy_alert_below')).toBe(3);
    expect(sampleValue(families, 'paypath_paths_healthy')).toBe(2);
    expect(families.get('paypath_paths_healthy')?.help).toMatch(
      /^Independent paths that are healthy/,
    );
    expect(sampleValue(families, 'paypath_redundancy_level')).toBe(1);
  });

  it('gives the redundancy level of /status: healthy paths gone unproven are no spares', async () => {
    const unproven = {
      ...status,
      redundancy: { healthy: 3, total: 3, level: 'N+0', unproven: ['skt-fiber', 'lgu-lte'] },
    } as GatewayStatus;
    const families = await metrics({ processMetrics: false, status: () => unproven }).scrape();
    expect(sampleValue(families, 'paypath_redundancy_level')).toBe(0);
    expect(sampleValue(families, 'paypath_paths_healthy')).toBe(3);
    const down = {
      ...status,
      redundancy: { healthy: 0, total: 3, level: 'down' },
    } as GatewayStatus;
    expect(
      sampleValue(
        await metrics({ processMetrics: false, status: () => down }).scrape(),
        'paypath_redundancy_level',
      ),
    ).toBe(-1);
  });

  it('counts dead letters per route in a counter', async () => {
    const { m, scrape } = metrics({ processMetrics: false });
    m.watchQueue(async () => ({ depth: 2, oldestAgeMs: 1_500 }));
    m.deadLetter('billing');
    m.deadLetter('billing');
    const families = await scrape();
    expect(families.get('paypath_queue_dead_letters_total')?.type).toBe('counter');
    expect(sampleValue(families, 'paypath_queue_dead_letters_total', { route: 'billing' })).toBe(2);
    expect(sampleValue(families, 'paypath_queue_depth')).toBe(2);
    expect(sampleValue(families, 'paypath_queue_oldest_age_seconds')).toBe(1.5);
    expect(families.has('paypath_queue_dead_lettered')).toBe(false);
  });

  it('keeps when each path last passed a drill, and which paths are drilled on a schedule', async () => {
    const { m, scrape } = metrics({
      processMetrics: false,
      drillPaths: () => ['kt-fiber', 'skt-fiber'],
    });
    const before = Date.now() / 1000;
    m.drill('kt-fiber', 'passed');
    m.drill('skt-fiber', 'failed');
    const families = await scrape();
    const passedAt = sampleValue(families, 'paypath_drill_last_passed_timestamp_seconds', {
      path: 'kt-fiber',
    });
    expect(passedAt).toBeGreaterThanOrEqual(before);
    expect(
      families
        .get('paypath_drill_last_passed_timestamp_seconds')
        ?.samples.map((s) => s.labels.path),
    ).toEqual(['kt-fiber']);
    expect(
      families.get('paypath_drill_scheduled')?.samples.map((s) => [s.labels.path, s.value]),
    ).toEqual([
      ['kt-fiber', 1],
      ['skt-fiber', 1],
    ]);
    expect(
      sampleValue(families, 'paypath_drills_total', { path: 'skt-fiber', result: 'failed' }),
    ).toBe(1);
  });

  it('shows whether Redis is connected only when Redis is configured', async () => {
    let connected = true;
    const { scrape } = metrics({ processMetrics: false, redisConnected: () => connected });
    expect(sampleValue(await scrape(), 'paypath_redis_up')).toBe(1);
    connected = false;
    expect(sampleValue(await scrape(), 'paypath_redis_up')).toBe(0);
    expect((await metrics({ processMetrics: false }).scrape()).has('paypath_redis_up')).toBe(false);
  });

  it('labels each path with how it leaves: interface, next hop and source address', async () => {
    const families = await metrics({ processMetrics: false }).scrape();
    expect(families.get('paypath_path_egress_info')?.samples).toEqual([
      {
        name: 'paypath_path_egress_info',
        labels: {
          path: 'kt-fiber',
          state: 'known',
          interface: 's1',
          gateway: '10.201.1.1',
          source: '10.201.1.2',
        },
        value: 1,
      },
    ]);
    expect(sampleValue(families, 'paypath_path_egress_shared', { path: 'kt-fiber' })).toBe(0);
  });

  it('registers no metric that docs/ops.md does not list', () => {
    const { m } = metrics({
      processMetrics: false,
      redisConnected: () => true,
      budgets: () => [],
      drillPaths: () => [],
    });
    m.watchDns(() => []);
    m.watchQueue(async () => ({ depth: 0, oldestAgeMs: null }));
    const documented = readFileSync(new URL('../../../docs/ops.md', import.meta.url), 'utf8');
    const names = m.registry.getMetricsAsArray().map((metric) => metric.name);
    expect(names.length).toBeGreaterThan(20);
    // Listed as `name` or `name{label}`.
    expect(
      names.filter(
        (name) => !documented.includes(`\`${name}\``) && !documented.includes(`\`${name}{`),
      ),
    ).toEqual([]);
  });

  it('names failure classes that attempts have, in its help text and in docs/ops.md', async () => {
    const source = readFileSync(new URL('../../core/attempt-error.ts', import.meta.url), 'utf8');
    const union = source.slice(
      source.indexOf('export type AttemptErrorCode ='),
      source.indexOf(';', source.indexOf('export type AttemptErrorCode =')),
    );
    const codes = new Set([...union.matchAll(/\|\s*'([a-z_]+)'/g)].map((match) => match[1]!));
    expect(codes.has('response_timeout')).toBe(true);
    const known = (name: string) => codes.has(name) || /^http_\d{3}$/.test(name);
    const help =
      (await metrics({ processMetrics: false }).scrape()).get('paypath_path_failures_total')
        ?.help ?? '';
    const named = [...help.matchAll(/\b[a-z]+_[a-z0-9_]+\b/g)].map((match) => match[0]);
    expect(named.length).toBeGreaterThan(1);
    expect(named.filter((name) => !known(name))).toEqual([]);
    const documented = readFileSync(new URL('../../../docs/ops.md', import.meta.url), 'utf8');
    const row = documented
      .split('\n')
      .find((line) => line.startsWith('| `paypath_path_failures_total`'))!;
    const classes = [...row.matchAll(/`([a-z]+_[a-z0-9_]+)`/g)]
      .map((match) => match[1]!)
      .filter((name) => !name.startsWith('paypath_'));
    expect(classes.length).toBeGreaterThan(1);
    expect(classes.filter((name) => !known(name))).toEqual([]);
  });
});
