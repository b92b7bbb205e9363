import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { until } from './poll.ts';

const WRANGLER = new URL('../../node_modules/wrangler/bin/wrangler.js', import.meta.url).pathname;

/**
 * The paypath Worker running in workerd under `wrangler dev`, offline, on a loopback port the OS
 * picks: wrangler is started with `--port 0` and the port is read back from its "Ready on
 * http://127.0.0.1:PORT" line, so no other test can take the port between a pick and the bind.
 * The devtools inspector (unused here) listens on a port the OS picks too (`--inspector-port 0`).
 * Started through wrangler.js directly (not npx) and in its own process group, so stopping it
 * by PID also stops the workerd children.
 */
export class WranglerDev {
  #url: string | undefined;
  readonly #child: ChildProcess;
  readonly #dir: string;
  output = '';

  private constructor(child: ChildProcess, dir: string) {
    this.#child = child;
    this.#dir = dir;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  get url(): string {
    if (this.#url === undefined) throw new Error('wrangler dev has not said where it listens yet');
    return this.#url;
  }

  /** `testScheduled`: serve `/__scheduled?cron=…`, which runs the Worker's scheduled handler (see `scheduled`). */
  static async start(
    vars: Record<string, string>,
    options: { testScheduled?: boolean } = {},
  ): Promise<WranglerDev> {
    const dir = mkdtempSync(join(tmpdir(), 'paypath-wrangler-'));
    const args = [
      WRANGLER,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '0',
      '--inspector-port',
      '0',
      '--persist-to',
      join(dir, 'state'),
    ];
    for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
    if (options.testScheduled) args.push('--test-scheduled');
    const child = spawn(process.execPath, args, {
      cwd: new URL('../..', import.meta.url).pathname,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_SEND_ERROR_REPORTS: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        XDG_CONFIG_HOME: dir,
        WRANGLER_LOG_PATH: join(dir, 'logs'),
      },
    });
    const dev = new WranglerDev(child, dir);
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    try {
      // The line wrangler prints once workerd listens, with the port the OS gave it.
      const ready = await until(
        'wrangler dev to print "Ready on http://127.0.0.1:PORT"',
        () => {
          const match = /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(
            stripVTControlCharacters(dev.output),
          );
          if (match) return match[1]!;
          if (exited()) throw new Error('wrangler dev exited');
          return undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      dev.#url = ready;
      await until(
        `the Worker to answer ${ready}/healthz`,
        async () => {
          if (exited()) throw new Error('wrangler dev exited');
          return await fetch(`${ready}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
            (r) => r.ok,
            () => false,
          );
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      return dev;
    } catch (error) {
      await dev.stop();
      throw new Error(`wrangler dev did not start (${(error as Error).message}):\n${dev.output}`, {
        cause: error,
      });
    }
  }

  /** Runs the scheduled handler as a Cron Trigger would (needs `testScheduled`); resolves once it has finished. */
  async scheduled(cron = '* * * * *'): Promise<void> {
    const response = await fetch(
      `${this.url}/__scheduled?cron=${encodeURIComponent(cron).replaceAll('%20', '+')}`,
      { signal: AbortSignal.timeout(15_000) },
    );
    const text = await response.text();
    if (!response.ok) throw new Error(`scheduled handler failed: ${response.status} ${text}`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
