// A DNS resolver on loopback for tests: dnsmasq serving fixed records, started and stopped by the
// test (by its PID). It logs every query with its source address, so a test can tell which local
// address (path) asked. Needs the dnsmasq binary (Debian's dnsmasq-base); no config file is read.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';

export interface HostRecord {
  name: string;
  address: string;
  ttlSeconds: number;
}

/** Whether dnsmasq is installed (tests skip without it, outside CI). */
export function dnsmasqAvailable(): boolean {
  return spawnSync('dnsmasq', ['--version'], { stdio: 'ignore' }).status === 0;
}

export class LoopbackDnsmasq {
  readonly address: string;
  readonly port: number;
  readonly #child: ChildProcess;
  #log = '';
  #exited: Promise<void>;

  private constructor(address: string, port: number, child: ChildProcess) {
    this.address = address;
    this.port = port;
    this.#child = child;
    child.stderr?.on('data', (chunk: Buffer) => (this.#log += chunk.toString()));
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts dnsmasq on `address` (a 127.x address) and a free UDP port, serving `records`; resolves once it answers. */
  static async start(
    address: string,
    records: HostRecord[],
    options: { alsoListen?: string[] } = {},
  ): Promise<LoopbackDnsmasq> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 40_000);
      const child = spawn(
        'dnsmasq',
        [
          '--keep-in-foreground',
          '--no-resolv',
          '--no-hosts',
          '--bind-interfaces',
          `--listen-address=${address}`,
          ...(options.alsoListen ?? []).map((extra) => `--listen-address=${extra}`),
          `--port=${port}`,
          '--pid-file=',
          '--log-queries',
          '--log-facility=-',
          ...records.map((r) => `--host-record=${r.name},${r.address},${r.ttlSeconds}`),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const server = new LoopbackDnsmasq(address, port, child);
      if (await server.#answers(records[0]!.name)) return server;
      await server.stop(); // most likely the port was taken
    }
    throw new Error(`dnsmasq did not start on ${address}`);
  }

  /** `address:port` (of the first listen address), as a path's `dns:` entry. */
  get server(): string {
    return `${this.address}:${this.port}`;
  }

  /** The queries it received, in order: record type, name and source address. */
  queries(): { type: string; name: string; from: string }[] {
    return [...this.#log.matchAll(/query\[([A-Z]+)\] (\S+) from (\S+)/g)].map((m) => ({
      type: m[1]!,
      name: m[2]!,
      from: m[3]!,
    }));
  }

  /** Source addresses of the queries it received, in order. */
  querySources(): string[] {
    return this.queries().map((q) => q.from);
  }

  /** Freezes it (SIGSTOP): queries go unanswered, as with a resolver behind a cut carrier. */
  pause(): void {
    this.#child.kill('SIGSTOP');
  }

  resume(): void {
    this.#child.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGCONT');
      this.#child.kill('SIGKILL');
    }
    await this.#exited;
  }

  async #answers(name: string): Promise<boolean> {
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([this.server]);
    for (let i = 0; i < 25; i++) {
      if (this.#child.exitCode !== null) return false;
      try {
        await resolver.resolve4(name);
        return true;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    }
    return false;
  }
}
