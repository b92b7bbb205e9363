import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (the OS picks; closed again before it is returned). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
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
  readonly port: number;
  readonly #dir: string;
  readonly #persistent: boolean;
  readonly #extraArgs: readonly string[];
  #process: ChildProcess | undefined;

  private constructor(port: number, persistent: boolean, extraArgs: readonly string[]) {
    this.port = port;
    this.#persistent = persistent;
    this.#extraArgs = extraArgs;
    this.#dir = mkdtempSync(join(tmpdir(), 'paypath-redis-'));
  }

  /** `extraArgs` go after the defaults (relative file names in them resolve in the server's temp dir). */
  static async start(options: { persistent?: boolean; extraArgs?: readonly string[] } = {}): Promise<TestRedisServer> {
    const server = new TestRedisServer(await freePort(), options.persistent ?? false, options.extraArgs ?? []);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get running(): boolean {
    return this.#process !== undefined && this.#process.exitCode === null && this.#process.signalCode === null;
  }

  /** Starts (again) on the same port and data dir; resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.#process && this.#process.exitCode === null && this.#process.signalCode === null) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.#dir, '--daemonize', 'no'];
    args.push('--appendonly', this.#persistent ? 'yes' : 'no');
    if (this.#persistent) args.push('--appendfsync', 'always');
    args.push(...this.#extraArgs);
    this.#process = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await ping(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
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

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
