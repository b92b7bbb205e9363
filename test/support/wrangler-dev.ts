import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.ts';

const WRANGLER = new URL('../../node_modules/wrangler/bin/wrangler.js', import.meta.url).pathname;

/**
 * The paypath Worker running in workerd under `wrangler dev`, offline, on a free loopback port.
 * Started through wrangler.js directly (not npx) and in its own process group, so stopping it
 * by PID also stops the workerd children.
 */
export class WranglerDev {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  output = '';

  private constructor(url: string, child: ChildProcess, dir: string) {
    this.url = url;
    this.#child = child;
    this.#dir = dir;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** `testScheduled`: serve `/__scheduled?cron=…`, which runs the Worker's scheduled handler (see `scheduled`). */
  static async start(
    vars: Record<string, string>,
    options: { testScheduled?: boolean } = {},
  ): Promise<WranglerDev> {
    const dir = mkdtempSync(join(tmpdir(), 'paypath-wrangler-'));
    const port = await freePort();
    const inspector = await freePort();
    const args = [
      WRANGLER,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspector),
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
    const dev = new WranglerDev(`http://127.0.0.1:${port}`, child, dir);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${dev.url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return dev;
      if (child.exitCode !== null || Date.now() > deadline) {
        await dev.stop();
        throw new Error(`wrangler dev did not start:\n${dev.output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
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
