import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { OpsStack } from './support/ops-harness.ts';
import { until } from './support/poll.ts';
import { parsePrometheusText, type Family } from './support/prom-text.ts';
import { TestRedisServer } from './support/redis-server.ts';
import { runTool } from './support/system-tool.ts';

interface Dashboard {
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
  panels: {
    id: number;
    title: string;
    type: string;
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { expr: string }[];
  }[];
}

const METRIC = /\bpaypath_[a-z0-9_]+/g;
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

/** Whether `name` (a metric name as a query writes it) is a family of the exposition, or a histogram's series of one. */
function exposes(families: Map<string, Family>, name: string): boolean {
  if (families.has(name)) return true;
  const family = families.get(name.replace(HISTOGRAM_SUFFIX, ''));
  return family !== undefined && family.type === 'histogram';
}

describe('metrics the deploy/ files use', () => {
  let redis: TestRedisServer;
  let stack: OpsStack;
  let text: string;
  let families: Map<string, Family>;
  let dashboard: Dashboard;
  let ruleExprs: string[];
  let dashboardExprs: string[];
  let work: string;

  beforeAll(async () => {
    redis = await TestRedisServer.start();
    // Everything on: Redis (paypath_redis_up), a scheduled drill, a queue route, process metrics.
    stack = await OpsStack.start({
      processMetrics: true,
      redisUrl: redis.url,
      edit: (policy) => {
        policy.drills = [{ path: 'lgu-lte', every: '1d', durationMs: 1_000 }];
        policy.routes.push({
          id: 'billing',
          match: { method: 'POST', pathPrefix: '/v1/billing/' },
          class: 'billing',
          paths: ['kt-fiber', 'skt-fiber'],
          whenAllDown: 'queue',
        });
      },
    });
    expect((await stack.pay('deploy-metrics-1')).status).toBe(201);
    const response = await fetch(`${stack.gateway.url}/metrics`);
    text = await response.text();
    families = parsePrometheusText(text);
    const rules = parse(await readFile('deploy/prometheus/alerts.yaml', 'utf8')) as {
      groups: { rules: { expr: string; annotations?: Record<string, string> }[] }[];
    };
    ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    dashboard = JSON.parse(await readFile('deploy/grafana/paypath.json', 'utf8')) as Dashboard;
    dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    work = await mkdtemp(join(tmpdir(), 'paypath-deploy-metrics-'));
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a real /metrics passes promtool check metrics', async () => {
    expect(families.get('paypath_redis_up')?.samples[0]?.value).toBe(1);
    expect(families.has('paypath_process_cpu_seconds_total')).toBe(true);
    const result = await runTool('promtool', ['check', 'metrics'], { input: text });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('promtool check metrics finds what was wrong before (so the test above can fail)', async () => {
    const result = await runTool('promtool', ['check', 'metrics'], {
      input: '# HELP paypath_x_total x\n# TYPE paypath_x_total gauge\npaypath_x_total 1\n',
    });
    expect(result.code).toBe(3); // promtool's exit status for lint problems
    expect(result.stdout + result.stderr).toMatch(
      /non-counter metrics should not have "_total" suffix/,
    );
  });

  it('every metric the alert rules and the dashboard name is one /metrics exposes', () => {
    const used = new Set(
      [
        ...ruleExprs,
        ...dashboardExprs,
        ...dashboard.templating.list.map((v) =>
          typeof v.query === 'string' ? v.query : (v.query?.query ?? ''),
        ),
      ].flatMap((e) => e.match(METRIC) ?? []),
    );
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((name) => !exposes(families, name));
    expect(missing).toEqual([]);
    expect(exposes(families, 'paypath_no_such_metric')).toBe(false);
    expect(exposes(families, 'paypath_request_duration_seconds_bucket')).toBe(true);
  });

  it('the dashboard picks boxes by store and instance, in every query', () => {
    const variables = dashboard.templating.list.map((v) => v.name);
    expect(variables).toEqual(expect.arrayContaining(['datasource', 'store', 'instance']));
    expect(dashboardExprs.length).toBeGreaterThan(20);
    for (const expr of dashboardExprs) {
      for (const selector of expr.matchAll(/\b(paypath_[a-z0-9_]+)(\{[^}]*\})?/g)) {
        expect(selector[2] ?? '', `${selector[1]} in ${expr}`).toMatch(
          /store=~"\$store",instance=~"\$instance"/,
        );
      }
    }
  });

  it('the dashboard lays its panels out without overlap, each with its own id', () => {
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Map<string, string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const key = `${row},${column}`;
          expect(cells.get(key), `${panel.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, panel.title);
        }
      }
    }
  });

  it('the dashboard queries are valid PromQL (promtool check rules on them as recording rules)', async () => {
    const rules = dashboardExprs.map((expr, i) => ({
      record: `paypath_dashboard:query_${i}`,
      expr: expr
        .replaceAll('$__rate_interval', '5m')
        .replaceAll('$store', '.*')
        .replaceAll('$instance', '.*'),
    }));
    const file = join(work, 'dashboard-queries.yaml');
    await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const result = await runTool('promtool', ['check', 'rules', file]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    await writeFile(
      file,
      stringify({
        groups: [
          {
            name: 'dashboard',
            rules: [
              { record: 'paypath_dashboard:bad', expr: 'sum by (path (paypath_paths_healthy)' },
            ],
          },
        ],
      }),
    );
    const broken = await runTool('promtool', ['check', 'rules', file]);
    expect(broken.code).toBe(1);
    expect(broken.stdout + broken.stderr).toMatch(
      /paypath_dashboard:bad.*could not parse expression/,
    );
  });

  it('paypath_redis_up (what PaypathRedisDown watches) goes to 0 while Redis is down, and back', async () => {
    const redisUp = async () =>
      parsePrometheusText(await (await fetch(`${stack.gateway.url}/metrics`)).text()).get(
        'paypath_redis_up',
      )?.samples[0]?.value;
    const redisUpIs = (value: number) =>
      until(`paypath_redis_up to be ${value}`, async () => (await redisUp()) === value, {
        timeoutMs: 15_000,
      });
    await redis.kill();
    try {
      await redisUpIs(0);
      expect((await stack.pay('deploy-metrics-without-redis')).status).toBe(201);
    } finally {
      // Redis comes back whatever happened, so no other test here depends on running before this one.
      await redis.restart();
    }
    await redisUpIs(1);
  });
});
