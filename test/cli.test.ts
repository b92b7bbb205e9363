import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServeChild } from './support/serve-child.ts';

const BIN = new URL('../bin/paypath.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'paypath-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** Runs `paypath` once per argument list, a few at a time (a shared 2-core machine must not starve them); results in order. */
async function runEach(
  argLists: string[][],
): Promise<{ code: number; stdout: string; stderr: string }[]> {
  const results: { code: number; stdout: string; stderr: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < argLists.length) {
      const i = next++;
      results[i] = await run(argLists[i]!);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return results;
}

const GOOD = `version: 1
paths:
  - id: kt-fiber
    upstream: https://pay.processor.example
  - id: skt-fiber
    upstream: https://pay.processor.example
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [kt-fiber, skt-fiber]
`;

/** Each malformed policy, and what the error must name (field path, and position where it has one). */
const MALFORMED: [string, string, RegExp][] = [
  [
    'unknown route path',
    GOOD.replace('paths: [kt-fiber, skt-fiber]', 'paths: [kt-fiber, skt-fiber, lgu-lte]'),
    /:10:\d+: routes\[0\]\.paths\[2\]: unknown path "lgu-lte"/,
  ],
  [
    'bad grade',
    GOOD.replace(
      '    upstream: https://pay.processor.example\n  - id: skt',
      '    upstream: https://pay.processor.example\n    grade: lukewarm\n  - id: skt',
    ),
    /paths\[0\]\.grade: .*"mirror".*got "lukewarm"/,
  ],
  [
    'unknown field',
    GOOD.replace('version: 1', 'version: 1\ncolour: red'),
    /:2:1: colour: unknown field/,
  ],
  [
    'typo in a route field',
    GOOD.replace(
      '    paths: [kt-fiber, skt-fiber]',
      '    paths: [kt-fiber, skt-fiber]\n    deadlinMs: 100',
    ),
    /routes\[0\]\.deadlinMs: unknown field \(did you mean "deadlineMs"\?\)/,
  ],
  [
    'duplicate path id',
    GOOD.replace('id: skt-fiber', 'id: kt-fiber'),
    /paths\[1\]\.id: duplicate path id "kt-fiber"/,
  ],
  [
    'deadline shorter than an attempt',
    GOOD.replace(
      '    paths: [kt-fiber, skt-fiber]',
      '    paths: [kt-fiber, skt-fiber]\n    attemptTimeoutMs: 2000\n    deadlineMs: 500',
    ),
    /routes\[0\]\.deadlineMs: deadline \(500 ms\) is shorter than one attempt/,
  ],
  [
    'upstream not a URL',
    GOOD.replace(
      'upstream: https://pay.processor.example\n  - id: skt',
      'upstream: pay.processor\n  - id: skt',
    ),
    /paths\[0\]\.upstream: expected an http\(s\) base URL/,
  ],
  [
    'bind not an address',
    GOOD.replace(
      '    upstream: https://pay.processor.example\n  - id: skt',
      '    upstream: https://pay.processor.example\n    bind: 10.0.1.300\n  - id: skt',
    ),
    /paths\[0\]\.bind: expected an IPv4 or IPv6 address/,
  ],
  ['wrong version', GOOD.replace('version: 1', 'version: 2'), /version: expected version: 1/],
  ['missing routes', GOOD.slice(0, GOOD.indexOf('routes:')), /routes: required field is missing/],
  ['bad method', GOOD.replace('method: POST', 'method: FETCH'), /routes\[0\]\.match\.method: /],
  [
    'both path and pathPrefix',
    GOOD.replace('path: /v1/payments }', 'path: /v1/payments, pathPrefix: /v1/ }'),
    /routes\[0\]\.match: expected exactly one of path or pathPrefix/,
  ],
  [
    'negative timeout',
    GOOD.replace(
      '    paths: [kt-fiber, skt-fiber]',
      '    paths: [kt-fiber, skt-fiber]\n    attemptTimeoutMs: -5',
    ),
    /routes\[0\]\.attemptTimeoutMs: .*got -5/,
  ],
  [
    'YAML syntax error',
    GOOD.replace(
      'match: { method: POST, path: /v1/payments }',
      'match: { method: POST, path: /v1/payments',
    ),
    /:\d+:\d+: YAML syntax error: a "\{" opened above is not closed with "\}"/,
  ],
  [
    'duplicate YAML key',
    GOOD.replace('version: 1', 'version: 1\nversion: 1'),
    /:2:1: YAML error: duplicate key "version"/,
  ],
];

describe('paypath validate', () => {
  it('accepts the shipped policies', async () => {
    for (const file of [
      'policies/default.yaml',
      'policies/examples/store-box.yaml',
      'policies/examples/cdn-edge.yaml',
      'policies/examples/demo-signed.yaml',
    ]) {
      const result = await run(['validate', file]);
      expect(result.stdout).toContain('valid');
      expect(result.code).toBe(0);
    }
  });

  it('warns (status 0) when a prefix route is listed before an exact route it covers, and not for the shipped order', async () => {
    const shadowing = GOOD.replace(
      '  - id: payments\n',
      '  - id: captures\n    match: { method: POST, pathPrefix: /v1/payments/ }\n    paths: [kt-fiber]\n  - id: payments\n',
    );
    const file = join(dir, 'shadowing.yaml');
    writeFileSync(file, shadowing);
    const result = await run(['validate', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('valid');
    expect(result.stderr).toMatch(
      /warning: routes\[0\] "captures" \(POST pathPrefix \/v1\/payments\/\) is listed before routes\[1\] "payments" \(POST path \/v1\/payments\) and covers \/v1\/payments\/: exact paths are matched first/,
    );
    const shipped = await run(['validate', 'policies/default.yaml']);
    expect(shipped.stderr).not.toContain('warning');
  });

  it(
    `rejects ${MALFORMED.length} malformed policies with status 2, naming the field`,
    { timeout: 120_000 },
    async () => {
      const files = MALFORMED.map(([name, text]) => {
        const file = join(dir, `${name.replaceAll(' ', '-')}.yaml`);
        writeFileSync(file, text);
        return file;
      });
      const results = await runEach(files.map((file) => ['validate', file]));
      results.forEach((result, i) => {
        const name = MALFORMED[i]![0];
        expect({ name, code: result.code }).toEqual({ name, code: 2 });
        expect(result.stderr, name).toMatch(MALFORMED[i]![2]);
      });
    },
  );

  it('serve with a bad policy exits 2 before listening', async () => {
    const file = join(dir, 'serve-bad.yaml');
    writeFileSync(file, GOOD.replace('version: 1', 'version: one'));
    const result = await run(['serve', '--policy', file, '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/version: expected version: 1/);
  });

  it('reads PAYPATH_POLICY and says what is missing for bad usage', async () => {
    const missing = await run(['serve'], { PAYPATH_POLICY: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--policy FILE/);
    const unreadable = await run(['serve'], { PAYPATH_POLICY: join(dir, 'nope.yaml') });
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toMatch(/cannot read file: ENOENT/);
  });

  it('serve refuses an --idempotency-memory-mb that is not a positive number, before listening', async () => {
    const file = join(dir, 'good-for-memory.yaml');
    writeFileSync(file, GOOD);
    const flag = await run([
      'serve',
      '--policy',
      file,
      '--port',
      '0',
      '--idempotency-memory-mb',
      '0',
    ]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--idempotency-memory-mb must be a positive number of MB, got "0"/);
    const fromEnv = await run(['serve', '--policy', file, '--port', '0'], {
      PAYPATH_IDEMPOTENCY_MEMORY_MB: 'lots',
    });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/got "lots"/);
  });

  it('serve refuses a malformed queue key, or a key file others may read, exiting 2 without echoing the key', async () => {
    const file = join(dir, 'good-for-queue-key.yaml');
    writeFileSync(file, GOOD);
    const shortKey = Buffer.alloc(16, 1).toString('base64');
    const fromEnv = await run(['serve', '--policy', file, '--port', '0'], {
      PAYPATH_QUEUE_KEY: shortKey,
    });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/PAYPATH_QUEUE_KEY: key 1: a queue key must be 32 bytes/);
    expect(fromEnv.stderr).not.toContain(shortKey);
    const keyFile = join(dir, 'queue.key');
    writeFileSync(keyFile, `${Buffer.alloc(32, 1).toString('base64')}\n`);
    chmodSync(keyFile, 0o644);
    const open = await run(['serve', '--policy', file, '--port', '0', '--queue-key-file', keyFile]);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/queue\.key: secret file has mode 0644/);
  });

  it('serve with a malformed Redis Cluster URL exits 2 naming what is wrong, before listening', async () => {
    const file = join(dir, 'good-for-redis.yaml');
    writeFileSync(file, GOOD);
    const result = await run([
      'serve',
      '--policy',
      file,
      '--port',
      '0',
      '--redis',
      'redis+cluster://127.0.0.1:7000,127.0.0.1:99999',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /--redis \(or REDIS_URL\): bad cluster node address "127\.0\.0\.1:99999"/,
    );
    const fromEnv = await run(['serve', '--policy', file, '--port', '0'], {
      REDIS_URL: 'redis+cluster://127.0.0.1:7000/0',
    });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/a cluster has no database number/);
  });
});

describe('paypath help and version', () => {
  it(
    "COMMAND --help prints that command's help and exits 0, for every command",
    { timeout: 120_000 },
    async () => {
      const commands = [
        'serve',
        'validate',
        'doctor',
        'status',
        'drill',
        'policy',
        'audit',
        'help',
      ];
      // Also after other arguments, and as `help COMMAND`.
      const [late, asHelp, unknown, ...perCommand] = await runEach([
        ['policy', 'apply', 'x.yaml', '-h'],
        ['help', 'drill'],
        ['deploy', '--help'],
        ...commands.map((command) => [command, '--help']),
      ]);
      commands.forEach((command, i) => {
        const result = perCommand[i]!;
        expect({ command, code: result.code, stderr: result.stderr }).toEqual({
          command,
          code: 0,
          stderr: '',
        });
        expect(result.stdout).toMatch(new RegExp(`^  paypath ${command}\\b`, 'm'));
      });
      expect(late!.code).toBe(0);
      expect(late!.stdout).toMatch(/^ {2}paypath policy show/m);
      expect(late!.stdout).toMatch(/--url URL/);
      expect(asHelp!.stdout).toMatch(/^ {2}paypath drill stop/m);
      expect(unknown!.code).toBe(2);
      expect(unknown!.stderr).toMatch(/unknown command "deploy"/);
    },
  );

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`paypath ${version}`);
  });
});

describe('paypath serve V8 heap sizing', () => {
  const LOCAL = GOOD.replaceAll('https://pay.processor.example', 'http://127.0.0.1:9');

  /** Starts serve, waits until it listens, and returns the node flags the running process has. */
  async function runningFlags(env: Record<string, string>, ipc = false): Promise<string[]> {
    const child = await startServeChild(LOCAL, { env, ipc, args: ['--no-warm-up'] });
    try {
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      return argv.slice(1, argv.indexOf(BIN));
    } finally {
      // Gone before the next test starts one.
      await child.stop();
    }
  }

  it.runIf(process.platform === 'linux')(
    'runs with a small young generation, in the same process',
    async () => {
      expect(await runningFlags({})).toEqual(['--max-semi-space-size=16']);
    },
  );

  it.runIf(process.platform === 'linux')(
    "keeps V8 sizing with PAYPATH_V8_HEAP=default, and the user's own flag",
    async () => {
      expect(await runningFlags({ PAYPATH_V8_HEAP: 'default' })).toEqual([]);
      expect(await runningFlags({ NODE_OPTIONS: '--max-semi-space-size=8' })).toEqual([]);
    },
  );

  it.runIf(process.platform === 'linux')(
    'does not replace itself under an IPC channel (fork), which the exec would close',
    async () => {
      expect(await runningFlags({}, true)).toEqual([]);
    },
  );

  it('refuses an unknown PAYPATH_V8_HEAP', async () => {
    const result = await run(['serve', '--policy', join(dir, 'nope.yaml')], {
      PAYPATH_V8_HEAP: 'tiny',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /PAYPATH_V8_HEAP must be "small" \(the default\) or "default", got "tiny"/,
    );
  });
});
