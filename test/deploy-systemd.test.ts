import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from './support/system-tool.ts';

const UNIT = 'deploy/systemd/paypath.service';

/** The unit's settings of one section, by name (a name set twice keeps every value). */
function settings(unit: string, section: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let current = '';
  for (const line of unit.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1]!;
    const setting = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (setting && current === section)
      found.set(setting[1]!, [...(found.get(setting[1]!) ?? []), setting[2]!]);
  }
  return found;
}

describe('deploy/systemd/paypath.service', () => {
  let unit: string;
  let work: string;
  /** The unit with /usr/bin/paypath replaced by this checkout's entry point, which exists here. */
  const verifiable = (text: string) =>
    text.replaceAll('/usr/bin/paypath', resolve('bin/paypath.js'));
  beforeAll(async () => {
    unit = await readFile(UNIT, 'utf8');
    work = await mkdtemp(join(tmpdir(), 'paypath-unit-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('passes systemd-analyze verify', async () => {
    const copy = join(work, 'paypath.service');
    await writeFile(copy, verifiable(unit));
    const result = await runTool('systemd-analyze', ['verify', copy]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('systemd-analyze verify catches a misspelt setting and a missing program (so the test above can fail)', async () => {
    const misspelt = join(work, 'misspelt.service');
    await writeFile(
      misspelt,
      verifiable(unit).replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'),
    );
    expect((await runTool('systemd-analyze', ['verify', misspelt])).stderr).toMatch(
      /Unknown key 'NoNewPrivilege' in section \[Service\]/,
    );
    const missing = join(work, 'missing.service');
    await writeFile(missing, unit.replaceAll('/usr/bin/paypath', join(work, 'no-such-program')));
    const result = await runTool('systemd-analyze', ['verify', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no-such-program is not executable/);
  });

  it('runs paypath serve as its own user, restarts on failure, drains on SIGTERM', () => {
    const service = settings(unit, 'Service');
    expect(service.get('User')).toEqual(['paypath']);
    expect(service.get('ExecStart')).toEqual(['/usr/bin/paypath serve']);
    expect(service.get('EnvironmentFile')).toEqual(['/etc/paypath/paypath.env']);
    expect(service.get('Environment')).toContain('PAYPATH_POLICY=/etc/paypath/policy.yaml');
    expect(service.get('Restart')).toEqual(['on-failure']);
    // A bad policy exits 2: restarting would not fix it.
    expect(service.get('RestartPreventExitStatus')).toEqual(['2']);
    expect(service.get('KillSignal')).toEqual(['SIGTERM']);
    // Longer than the gateway's own drain (DEFAULT_DRAIN_TIMEOUT_MS, 25 s), so systemd never cuts a drain short.
    expect(Number(/^(\d+)s$/.exec(service.get('TimeoutStopSec')![0]!)![1])).toBeGreaterThan(25);
    expect(settings(unit, 'Install').get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('is hardened: no privileges, read-only system, private tmp (systemd-analyze security)', async () => {
    const service = settings(unit, 'Service');
    for (const [name, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['AmbientCapabilities', ''],
    ]) {
      expect(service.get(name!), name).toEqual([value]);
    }
    const copy = join(work, 'paypath.service');
    await writeFile(copy, verifiable(unit));
    const result = await runTool('systemd-analyze', ['security', '--offline=true', copy]);
    const exposure = /Overall exposure level for paypath\.service: ([0-9.]+)/.exec(result.stdout);
    expect(exposure, result.stdout + result.stderr).not.toBeNull();
    // 0 is fully locked down, 10 is not at all; systemd calls below 2 "OK".
    expect(Number(exposure![1])).toBeLessThan(2);
  });

  it('grants CAP_NET_ADMIN only through its opt-in drop-in', async () => {
    expect(unit).not.toMatch(/^[^#].*CAP_NET_ADMIN/m);
    const dropIn = settings(await readFile('deploy/systemd/net-admin.conf', 'utf8'), 'Service');
    expect(dropIn.get('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN']);
    expect(dropIn.get('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN']);
  });
});
