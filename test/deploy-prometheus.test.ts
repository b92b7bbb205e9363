import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runTool } from './support/system-tool.ts';

const DIR = 'deploy/prometheus';
const TEST_FILES = ['alerts.test.yaml', 'alerts-drills.test.yaml'];

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}
interface RuleTestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe('deploy/prometheus/alerts.yaml', () => {
  let rules: RuleFile;
  let work: string;
  beforeAll(async () => {
    rules = parse(await readFile(join(DIR, 'alerts.yaml'), 'utf8')) as RuleFile;
    work = await mkdtemp(join(tmpdir(), 'paypath-rules-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('passes promtool check rules', async () => {
    const result = await runTool('promtool', ['check', 'rules', join(DIR, 'alerts.yaml')]);
    expect(result.stdout + result.stderr).toMatch(/SUCCESS: 13 rules found/);
    expect(result.code).toBe(0);
  });

  it('passes its unit tests (promtool test rules)', async () => {
    const result = await runTool('promtool', ['test', 'rules', ...TEST_FILES], { cwd: DIR });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(/FAILED/);
  });

  it('has, for every alert, a unit test where it fires and one where it does not', async () => {
    const cases = new Map<string, { fires: number; silent: number }>();
    for (const file of TEST_FILES) {
      const tests = parse(await readFile(join(DIR, file), 'utf8')) as RuleTestFile;
      for (const test of tests.tests) {
        for (const c of test.alert_rule_test ?? []) {
          const counts = cases.get(c.alertname) ?? { fires: 0, silent: 0 };
          if (c.exp_alerts.length > 0) counts.fires++;
          else counts.silent++;
          cases.set(c.alertname, counts);
        }
      }
    }
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    expect(alerts).toHaveLength(13);
    for (const alert of alerts) {
      expect(cases.get(alert)?.fires, `${alert} fires in a test`).toBeGreaterThan(0);
      expect(cases.get(alert)?.silent, `${alert} stays silent in a test`).toBeGreaterThan(0);
    }
    expect([...cases.keys()].filter((name) => !alerts.includes(name))).toEqual([]);
  });

  it('its unit tests fail when a rule is wrong (so the test above can fail)', async () => {
    const text = await readFile(join(DIR, 'alerts.yaml'), 'utf8');
    const broken = text.replace(
      'expr: paypath_paths_healthy == 0',
      'expr: paypath_paths_healthy == 1',
    );
    expect(broken).not.toBe(text);
    await writeFile(join(work, 'alerts.yaml'), broken);
    await cp(join(DIR, 'alerts.test.yaml'), join(work, 'alerts.test.yaml'));
    const result = await runTool('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: work });
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/FAILED[\s\S]*alertname: PaypathAllPathsDown/);
  });
});
