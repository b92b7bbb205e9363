import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { until, within } from './poll.ts';

/** The listener's backlog: 0 would mean the default. */
const BACKLOG = 1;

/**
 * A listening socket that is never accepted from, with a full backlog: connects to it hang (on
 * Linux the kernel drops SYNs once the accept queue is full), like a carrier whose handshakes never
 * complete. A child process listens with backlog 1 (0 would mean the default) and is then stopped
 * (SIGSTOP), so nothing ever accepts; filler connections take the queue's room, until the kernel
 * shows it full (Linux only: it reads /proc/net/tcp).
 */
export class UnacceptedListener {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #fillers: Socket[];

  private constructor(port: number, child: ChildProcess, fillers: Socket[]) {
    this.port = port;
    this.#child = child;
    this.#fillers = fillers;
  }

  static async start(host = '127.0.0.1'): Promise<UnacceptedListener> {
    const script = `const s = require('node:net').createServer(); s.listen({ port: 0, host: ${JSON.stringify(host)}, backlog: ${BACKLOG} }, () => console.log(s.address().port));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (data: Buffer) => resolve(Number(data.toString().trim())));
      child.once('exit', () => reject(new Error('listener exited')));
    });
    child.kill('SIGSTOP');
    const fillers: Socket[] = [];
    try {
      // Connect until the kernel's accept queue is over the backlog (Linux keeps backlog + 1):
      // from then on it drops SYNs and connects hang. Each filler completes while there is room,
      // and is counted in the queue once the kernel has taken its handshake's last ACK.
      for (let i = 0; i < 16; i++) {
        const socket = connect({ host, port });
        socket.on('error', () => {});
        fillers.push(socket);
        await within(`filler connection ${i + 1} to connect`, once(socket, 'connect'), 5_000);
        await until(
          `${fillers.length} connection(s) in the listener's accept queue`,
          () => acceptQueue(port) === fillers.length,
          { timeoutMs: 5_000, intervalMs: 10, state: () => acceptQueue(port) },
        );
        if (fillers.length > BACKLOG) return new UnacceptedListener(port, child, fillers);
      }
      throw new Error('could not fill the listen backlog');
    } catch (error) {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
      throw error;
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.#fillers) socket.destroy();
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }
}

/**
 * The connections waiting to be accepted by the socket listening on `port` (IPv4 or IPv6): a
 * listening socket's rx_queue in /proc/net/tcp.
 */
function acceptQueue(port: number): number | undefined {
  const localPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue ...
      const [, local, , state, queues] = line.trim().split(/\s+/);
      if (state !== '0A' || !local?.endsWith(`:${localPort}`)) continue;
      return parseInt(queues!.split(':')[1]!, 16);
    }
  }
  return undefined;
}
