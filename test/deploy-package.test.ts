import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import packageJson from '../package.json' with { type: 'json' };
import { SimulatedProcessor } from '../src/demo/processor.ts';
import { until } from './support/poll.ts';
import { runTool } from './support/system-tool.ts';

/**
 * The Debian package, end to end: scripts/build-deb.sh builds it (uncompressed: the Node binary
 * makes it ~150 MB, and xz would take minutes on two cores), dpkg installs it into a throwaway root
 * (`dpkg --root`, maintainer scripts run against that root), the installed gateway starts as its
 * unit says and carries a payment to the simulated processor; then a reinstall (the upgrade path),
 * a removal and a purge. About 150 MB written a few times: tens of seconds, mostly disk.
 *
 * The install is made once, before the tests, and shared: the tests that read it or start the
 * gateway leave it as they found it, and so does the upgrade (a reinstall of the same package, its
 * edited setting put back). The removal installs into a root of its own, so no test depends on
 * running before it.
 */
describe('the Debian package', () => {
  let work: string;
  let root: string;
  let deb: string;
  let installed: Awaited<ReturnType<typeof runTool>>;
  const dpkg = (target: string, ...args: string[]) =>
    runTool(
      'dpkg',
      [
        `--root=${target}`,
        '--force-script-chrootless',
        '--force-depends',
        '--force-unsafe-io',
        '--log=/dev/null',
        ...args,
      ],
      { timeoutMs: 120_000 },
    );
  const installedVersion = async (target: string) =>
    /^Version: (.*)$/m.exec(await readFile(join(target, 'var/lib/dpkg/status'), 'utf8'))?.[1];
  /** An empty dpkg database: a throwaway root to install into. */
  const emptyRoot = async (target: string) => {
    await mkdir(join(target, 'var/lib/dpkg/info'), { recursive: true });
    await mkdir(join(target, 'var/lib/dpkg/updates'), { recursive: true });
    await mkdir(join(target, 'etc'), { recursive: true });
    await writeFile(join(target, 'var/lib/dpkg/status'), '');
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'paypath-deb-'));
    root = join(work, 'root');
    if (!existsSync('dist/dashboard/index.html'))
      expect((await runTool('npm', ['run', 'build:dashboard'], { timeoutMs: 120_000 })).code).toBe(
        0,
      );
    const built = await runTool('scripts/build-deb.sh', [join(work, 'out')], {
      env: { ...process.env, PAYPATH_DEB_COMPRESSION: 'none' },
      timeoutMs: 120_000,
    });
    expect(built.code, built.stderr).toBe(0);
    deb = built.stdout.trim();
    await emptyRoot(root);
    installed = await dpkg(root, '-i', deb);
  }, 240_000);
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs: the service user, the unit enabled, secrets readable by that user only', async () => {
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(await installedVersion(root)).toBe(packageJson.version);
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toMatch(
      /^paypath:x:\d+:\d+:[^:]*:\/var\/lib\/paypath:\/usr\/sbin\/nologin$/m,
    );
    expect(isLink(join(root, 'etc/systemd/system/multi-user.target.wants/paypath.service'))).toBe(
      true,
    );
    expect((await stat(join(root, 'etc/paypath/secrets'))).mode & 0o777).toBe(0o750);
  });

  it('carries Node 24 and the production dependencies only', async () => {
    const node = await runTool(join(root, 'usr/lib/paypath/node/bin/node'), ['--version']);
    expect(node.stdout.trim()).toMatch(/^v24\./);
    const modules = await readdir(join(root, 'usr/lib/paypath/node_modules'));
    for (const dependency of Object.keys(packageJson.dependencies))
      expect(modules).toContain(dependency.split('/')[0]);
    for (const devDependency of ['vitest', 'typescript', 'node', 'wrangler', 'vite', 'eslint'])
      expect(modules).not.toContain(devDependency);
    expect(existsSync(join(root, 'usr/lib/paypath/src/demo'))).toBe(false);
  });

  it('its unit passes systemd-analyze verify against the installed files', async () => {
    const unit = await readFile(join(root, 'lib/systemd/system/paypath.service'), 'utf8');
    const copy = join(work, 'paypath.service');
    await writeFile(copy, unit.replaceAll('/usr/bin/paypath', join(root, 'usr/bin/paypath')));
    const result = await runTool('systemd-analyze', ['verify', copy]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('starts as its unit says, on its own Node, and carries a payment to the processor', async () => {
    const processor = await new SimulatedProcessor({ serviceTimeMs: 1 }).start();
    let gateway: ChildProcess | undefined;
    try {
      const policy = {
        version: 1,
        paths: ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((bind, i) => ({
          id: `carrier-${i + 1}`,
          upstream: processor.url,
          bind,
          grade: 'hot',
        })),
        routes: [
          {
            id: 'payments',
            match: { method: 'POST', path: '/v1/payments' },
            class: 'payment',
            paths: ['carrier-1', 'carrier-2', 'carrier-3'],
            idempotency: { upstreamHonors: true },
          },
        ],
        redundancy: { alertBelow: 3 },
      };
      await writeFile(join(root, 'etc/paypath/policy.yaml'), stringify(policy));
      const env = await unitEnvironment(root, { PORT: '0', HOST: '127.0.0.1' });
      // The unit's working, state and cache directories (systemd makes them).
      for (const dir of ['var/lib/paypath', 'var/cache/paypath'])
        await mkdir(join(root, dir), { recursive: true });
      const unit = await readFile(join(root, 'lib/systemd/system/paypath.service'), 'utf8');
      const [command, ...args] = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
      gateway = spawn(join(root, command!), args, {
        cwd: join(root, 'var/lib/paypath'),
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = collect(gateway);
      const port = await until(
        'the installed gateway to say where it listens',
        () => {
          if (gateway!.exitCode !== null)
            throw new Error(`the gateway exited ${gateway!.exitCode}: ${output.text}`);
          return /paypath listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output.text)?.[1];
        },
        { timeoutMs: 30_000, state: () => output.text },
      );

      const response = await fetch(`http://127.0.0.1:${port}/v1/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'deb-order-1' },
        body: JSON.stringify({ amount: 4500, currency: 'KRW', reference: 'deb-order-1' }),
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-paypath-path')).toBe('carrier-1');
      expect(processor.chargesFor('deb-order-1')).toBe(1);
      expect(processor.charges[0]!.remoteAddress).toBe('127.0.0.2');
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(
          `^paypath_build_info\\{version="${packageJson.version.replaceAll('.', '\\.')}",node_version="v24\\.[0-9.]+"\\} 1$`,
          'm',
        ),
      );
      expect(existsSync(join(root, 'var/cache/paypath/compile'))).toBe(true);

      // systemd stops it with SIGTERM: it drains and exits 0.
      const exited = new Promise<number | null>((resolve) =>
        gateway!.once('exit', (code) => resolve(code)),
      );
      gateway.kill('SIGTERM');
      expect(await exited).toBe(0);
      gateway = undefined;
    } finally {
      if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL');
      await processor.stop();
    }
  });

  it('installs over itself as an upgrade does, keeping an edited setting', async () => {
    const envFile = join(root, 'etc/paypath/paypath.env');
    const shipped = await readFile(envFile, 'utf8');
    try {
      await writeFile(envFile, `${shipped}PAYPATH_V8_HEAP=default\n`);
      // The same package again: dpkg runs the upgrade path (old prerm upgrade, unpack, postinst
      // configure <installed version>) and keeps an edited conffile; a newer version differs only
      // in its files (rebuilding one would double this test's cost).
      const upgraded = await dpkg(root, '-i', deb);
      expect(upgraded.code, upgraded.stdout + upgraded.stderr).toBe(0);
      expect(upgraded.stdout).toMatch(
        new RegExp(
          `Unpacking paypath \\(${packageJson.version.replaceAll('.', '\\.')}\\) over \\(${packageJson.version.replaceAll('.', '\\.')}\\)`,
        ),
      );
      expect(await installedVersion(root)).toBe(packageJson.version);
      expect(await readFile(envFile, 'utf8')).toMatch(/^PAYPATH_V8_HEAP=default$/m);
      expect(isLink(join(root, 'etc/systemd/system/multi-user.target.wants/paypath.service'))).toBe(
        true,
      );
    } finally {
      // The other tests run the installed gateway with the settings as shipped.
      await writeFile(envFile, shipped);
    }
  });

  it('removes the program but keeps the settings and state; purge deletes them', async () => {
    // A root of its own, so the other tests keep theirs installed: a hard-linked copy of the
    // installed one (dpkg replaces and unlinks files, never writes one in place), not a second install.
    const own = join(work, 'removal-root');
    const copied = await runTool('cp', ['-al', root, own]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(await installedVersion(own)).toBe(packageJson.version);
    // State the gateway would have written (systemd makes the unit's state directory).
    await mkdir(join(own, 'var/lib/paypath'), { recursive: true });
    await writeFile(join(own, 'var/lib/paypath/audit.jsonl'), '{}\n');
    const removed = await dpkg(own, '-r', 'paypath');
    expect(removed.code, removed.stdout + removed.stderr).toBe(0);
    expect(existsSync(join(own, 'usr/lib/paypath'))).toBe(false);
    expect(existsSync(join(own, 'usr/bin/paypath'))).toBe(false);
    expect(isLink(join(own, 'etc/systemd/system/multi-user.target.wants/paypath.service'))).toBe(
      false,
    );
    expect(existsSync(join(own, 'etc/paypath/policy.yaml'))).toBe(true);
    expect(existsSync(join(own, 'var/lib/paypath/audit.jsonl'))).toBe(true);
    const purged = await dpkg(own, '--purge', 'paypath');
    expect(purged.code, purged.stdout + purged.stderr).toBe(0);
    expect(existsSync(join(own, 'etc/paypath'))).toBe(false);
    expect(existsSync(join(own, 'var/lib/paypath'))).toBe(false);
  });
});

/**
 * The environment systemd would give ExecStart: the unit's Environment= lines, then its
 * EnvironmentFile (which wins), with absolute paths moved under `root`, and a PATH without
 * node_modules/.bin (the system's Node is older: the package must not need it).
 */
async function unitEnvironment(
  root: string,
  overrides: Record<string, string>,
): Promise<NodeJS.ProcessEnv> {
  const unit = await readFile(join(root, 'lib/systemd/system/paypath.service'), 'utf8');
  const envFile = /^EnvironmentFile=(.*)$/m.exec(unit)![1]!;
  const env: Record<string, string> = {};
  const assign = (line: string) => {
    const at = line.indexOf('=');
    const [name, value] = [line.slice(0, at), line.slice(at + 1)];
    env[name] = value.startsWith('/') ? join(root, value) : value;
  };
  for (const match of unit.matchAll(/^Environment=(.*)$/gm)) assign(match[1]!);
  for (const line of (await readFile(join(root, envFile), 'utf8')).split('\n'))
    if (/^[A-Z_]+=/.test(line)) assign(line);
  return { ...env, ...overrides, PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
}

/** Whether `file` is a symbolic link (its target is absolute inside the root, so existsSync cannot tell). */
function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function collect(child: ChildProcess): { text: string } {
  const output = { text: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.text += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.text += chunk));
  return output;
}
