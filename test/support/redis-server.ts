import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './poll.ts';

/**
 * A port nothing listens on, for an upstream that refuses connections: the discard port. Ports the
 * OS hands out to listeners on port 0 (the tests' servers) are never below 1024, so no test takes it.
 */
export const REFUSED_PORT = 9;

/**
 * A port that was free a moment ago (the OS picks it). Only for programs that cannot listen on
 * port 0 and say which port they took (redis-server, wrangler dev): whoever uses it retries on a
 * bind failure.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server process of the test's own on a free loopback port, so a test can kill it
 * (SIGKILL), pause it (SIGSTOP) and restart it. With `persistent`, it keeps an append-only file
 * in a temp dir so data survives its own restart.
 */
export class TestRedisServer {
  #port: number;
  readonly #dir: string;
  readonly #persistent: boolean;
  readonly #extraArgs: readonly string[];
  #process: ChildProcess | undefined;

  private constructor(port: number, persistent: boolean, extraArgs: readonly string[]) {
    this.#port = port;
    this.#persistent = persistent;
    this.#extraArgs = extraArgs;
    this.#dir = mkdtempSync(join(tmpdir(), 'paypath-redis-'));
  }

  /** `extraArgs` go after the defaults (relative file names in them resolve in the server's temp dir). */
  static async start(
    options: { persistent?: boolean; extraArgs?: readonly string[] } = {},
  ): Promise<TestRedisServer> {
    const server = new TestRedisServer(0, options.persistent ?? false, options.extraArgs ?? []);
    // Another process may take the port between the pick and redis-server's bind: pick again.
    await until(
      'redis-server to start on a free port',
      async () => {
        server.#port = await freePort();
        return server.#launch();
      },
      { timeoutMs: 10_000 },
    );
    return server;
  }

  /** The port it listens on (kept across restarts, so clients reconnect to the same address). */
  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get running(): boolean {
    return (
      this.#process !== undefined &&
      this.#process.exitCode === null &&
      this.#process.signalCode === null
    );
  }

  /**
   * Starts again on the same port and data dir; resolves once it answers. A port still held
   * by something else (a closing connection of the old server, another process) is retried.
   */
  async restart(): Promise<void> {
    if (this.running) return;
    await until(`redis-server to start again on port ${this.port}`, () => this.#launch(), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
  }

  /** One start: true once it answers, false if it exited first (the port was taken). */
  async #launch(): Promise<boolean> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--dir',
      this.#dir,
      '--daemonize',
      'no',
    ];
    args.push('--appendonly', this.#persistent ? 'yes' : 'no');
    if (this.#persistent) args.push('--appendfsync', 'always');
    args.push(...this.#extraArgs);
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#process = child;
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    await until(
      `redis-server on port ${this.port} to answer`,
      async () => exited() || (await answersAs(this.port, child.pid!)),
      { timeoutMs: 10_000 },
    );
    if (exited()) this.#process = undefined;
    return !exited();
  }

  /** SIGKILL: the server vanishes; its connections are reset. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: the server hangs; connections stay open and nothing answers. */
  pause(): void {
    this.#process?.kill('SIGSTOP');
  }

  resume(): void {
    this.#process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Whether the redis-server (or sentinel) answering on `port` is process `pid`, not another that holds the port. */
export function answersAs(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      const found = /\r\nprocess_id:(\d+)\r\n/.exec(reply);
      if (found) done(Number(found[1]) === pid);
    });
  });
}
