import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/**
 * A listening socket that is never accepted from, with a full backlog: connects to it hang (on
 * Linux the kernel drops SYNs once the accept queue is full), like a carrier whose handshakes never
 * complete. A child process listens with backlog 1 (0 would mean the default) and is then stopped (SIGSTOP), so nothing ever
 * accepts; a few filler connections take the queue's room.
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
    const script = `const s = require('node:net').createServer(); s.listen({ port: 0, host: ${JSON.stringify(host)}, backlog: 1 }, () => console.log(s.address().port));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (data: Buffer) => resolve(Number(data.toString().trim())));
      child.once('exit', () => reject(new Error('listener exited')));
    });
    child.kill('SIGSTOP');
    const fillers: Socket[] = [];
    // Connect until one does not complete: from then on the queue is full and connects hang.
    for (let i = 0; i < 16; i++) {
      const socket = connect({ host, port });
      socket.on('error', () => {});
      fillers.push(socket);
      const connected = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 300);
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!connected) return new UnacceptedListener(port, child, fillers);
    }
    child.kill('SIGKILL');
    throw new Error('could not fill the listen backlog');
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
