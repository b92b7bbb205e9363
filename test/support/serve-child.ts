// `paypath serve` in a child process, for tests and benchmarks that read the gateway's own memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/paypath.js', import.meta.url).pathname;

export interface ServeChild {
  url: string;
  pid: number;
  /** Resident set size now, in bytes (VmRSS of /proc/PID/status). */
  rssBytes(): number;
  /** Peak resident set size so far, in bytes (VmHWM). */
  peakRssBytes(): number;
  /** GET a JSON document from the gateway (e.g. /status). */
  json(path: string): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  stop(): Promise<void>;
}

function procStatusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const value = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  if (value === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(value);
}

/**
 * Starts `paypath serve` with `policyYaml` on a free port and resolves once it listens. `ipc` gives
 * it an IPC channel, as `fork` would.
 */
export async function startServeChild(
  policyYaml: string,
  options: { env?: Record<string, string>; args?: string[]; ipc?: boolean } = {},
): Promise<ServeChild> {
  const dir = mkdtempSync(join(tmpdir(), 'paypath-serve-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, policyYaml);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--policy',
      file,
      '--port',
      '0',
      '--no-watch',
      '--audit-file',
      join(dir, 'audit.jsonl'),
      ...(options.args ?? []),
    ],
    {
      env: { ...process.env, LOG_LEVEL: 'info', ...options.env },
      stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /paypath listening on (http:\/\/[\d.:]+)/.exec(output);
      if (match) {
        child.stdout!.off('data', onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) =>
      reject(new Error(`paypath serve exited ${code} before listening: ${output.slice(-2_000)}`)),
    );
  });
  // Keep draining its output so a chatty log never blocks it.
  child.stdout!.resume();
  child.stderr!.resume();
  const pid = child.pid!;
  return {
    url,
    pid,
    rssBytes: () => procStatusKb(pid, 'VmRSS') * 1024,
    peakRssBytes: () => procStatusKb(pid, 'VmHWM') * 1024,
    json: async (path) => (await (await fetch(url + path)).json()) as Record<string, unknown>,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
