import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A simulated carrier: a TCP proxy in front of the processor that can fail the way real links do,
 * switchable while traffic flows.
 * - up: forwards both ways.
 * - blackhole: a cut fibre. New connections are accepted and then never answered; existing ones
 *   freeze with neither FIN nor RST. What the client sent is held, and delivered late when the
 *   carrier comes back (a spliced fibre), which is how retried requests without keys charge twice.
 * - reset: every connection, existing and new, is reset (RST).
 * - refuse: the listener closes (connection refused); existing connections are reset.
 * - slow: every answer is delayed by `delayMs`.
 * - flap: alternates between up and reset every `periodMs`.
 */
export type CarrierMode =
  | { mode: 'up' }
  | { mode: 'blackhole' }
  | { mode: 'reset' }
  | { mode: 'refuse' }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'flap'; periodMs: number };

export type CarrierModeName = CarrierMode['mode'];

export interface CarrierOptions {
  name: string;
  /** Loopback address the carrier listens on, e.g. 127.0.1.1. */
  host: string;
  /** Default: a free port. */
  port?: number;
  target: { host: string; port: number };
  /**
   * Connect to the target from the client's own source address, so the processor sees which
   * local address (carrier interface) the gateway bound. Default: true.
   */
  preserveSource?: boolean;
}

/** Parses `up`, `blackhole`, `reset`, `refuse`, `slow[:ms]` or `flap[:ms]`. */
export function parseCarrierMode(text: string): CarrierMode {
  const [name, arg] = text.split(':');
  const number = arg === undefined ? undefined : Number(arg);
  if (number !== undefined && !(Number.isFinite(number) && number > 0))
    throw new Error(`bad number in carrier mode "${text}"`);
  switch (name) {
    case 'up':
    case 'blackhole':
    case 'reset':
    case 'refuse':
      return { mode: name };
    case 'slow':
      return { mode: 'slow', delayMs: number ?? 2_000 };
    case 'flap':
      return { mode: 'flap', periodMs: number ?? 1_000 };
    default:
      throw new Error(
        `unknown carrier mode "${text}" (expected up, blackhole, reset, refuse, slow[:ms] or flap[:ms])`,
      );
  }
}

const MAX_HELD_BYTES = 1_048_576;

class Link {
  readonly client: Socket;
  upstream: Socket | undefined;
  frozen = false;
  clientEnded = false;
  held: Buffer[] = [];
  heldBytes = 0;
  /** When the last delayed chunk to the client is due, so slow mode keeps chunk order. */
  lastDueAt = 0;

  constructor(client: Socket) {
    this.client = client;
  }

  destroy(reset: boolean): void {
    for (const socket of [this.client, this.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}

export class CarrierProxy {
  readonly name: string;
  readonly host: string;
  /** Connections accepted since start. */
  accepted = 0;
  #port: number;
  #mode: CarrierMode = { mode: 'up' };
  /** The behaviour in force now (flap alternates between up and reset). */
  #effective: 'up' | 'blackhole' | 'reset' | 'refuse' | 'slow' = 'up';
  #server: Server | undefined;
  #flapTimer: ReturnType<typeof setInterval> | undefined;
  readonly #links = new Set<Link>();
  readonly #options: CarrierOptions;

  constructor(options: CarrierOptions) {
    this.#options = options;
    this.name = options.name;
    this.host = options.host;
    this.#port = options.port ?? 0;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://${this.host}:${this.#port}`;
  }

  /** Bytes clients sent that this carrier holds (frozen, or waiting for its upstream to connect). */
  get heldBytes(): number {
    let held = 0;
    for (const link of this.#links) held += link.heldBytes + (link.upstream?.connecting ? 1 : 0);
    return held;
  }

  get mode(): CarrierMode {
    return this.#mode;
  }

  async start(): Promise<this> {
    await this.#listen();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.#flapTimer);
    for (const link of this.#links) link.destroy(false);
    this.#links.clear();
    await this.#closeListener();
  }

  async setMode(mode: CarrierMode): Promise<void> {
    clearInterval(this.#flapTimer);
    this.#flapTimer = undefined;
    this.#mode = mode;
    if (mode.mode === 'flap') {
      await this.#apply('reset');
      let down = true;
      this.#flapTimer = setInterval(() => {
        down = !down;
        void this.#apply(down ? 'reset' : 'up');
      }, mode.periodMs);
      this.#flapTimer.unref();
      return;
    }
    await this.#apply(mode.mode);
  }

  async #apply(next: 'up' | 'blackhole' | 'reset' | 'refuse' | 'slow'): Promise<void> {
    this.#effective = next;
    // server.close() waits for open connections, which the loop below resets: don't await it first.
    const closing = next === 'refuse' ? this.#closeListener() : undefined;
    if (next !== 'refuse' && !this.#server) await this.#listen();

    for (const link of [...this.#links]) {
      if (next === 'reset' || next === 'refuse') {
        link.destroy(true);
        this.#links.delete(link);
      } else if (next === 'blackhole') {
        link.frozen = true;
      } else if (link.frozen) {
        this.#thaw(link);
      }
    }
    await closing;
  }

  async #listen(): Promise<void> {
    const server = createServer({ pauseOnConnect: false }, (socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.host, () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async #closeListener(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.accepted++;
    client.setNoDelay(true);
    if (this.#effective === 'reset' || this.#effective === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const link = new Link(client);
    this.#links.add(link);
    client.on('error', () => {});
    client.on('close', () => {
      if (!link.frozen) {
        link.upstream?.destroy();
        this.#links.delete(link);
      }
    });
    client.on('end', () => {
      link.clientEnded = true;
      if (!link.frozen) link.upstream?.end();
    });
    client.on('data', (chunk: Buffer) => {
      if (link.frozen || !link.upstream) {
        if (link.heldBytes + chunk.byteLength <= MAX_HELD_BYTES) {
          link.held.push(chunk);
          link.heldBytes += chunk.byteLength;
        }
        return;
      }
      link.upstream.write(chunk);
    });
    if (this.#effective === 'blackhole') link.frozen = true;
    else this.#connectUpstream(link);
  }

  #connectUpstream(link: Link): void {
    const { target, preserveSource = true } = this.#options;
    const localAddress = preserveSource
      ? link.client.remoteAddress?.replace(/^::ffff:/, '')
      : undefined;
    const upstream = connect({
      host: target.host,
      port: target.port,
      ...(localAddress ? { localAddress } : {}),
    });
    link.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => {});
    upstream.on('connect', () => this.#flush(link));
    upstream.on('data', (chunk: Buffer) => {
      if (link.frozen) {
        // A frozen link passes nothing back; the upstream's answer is lost with the fibre.
        return;
      }
      this.#toClient(link, chunk);
    });
    upstream.on('close', () => {
      if (!link.frozen) {
        link.client.end();
        this.#links.delete(link);
      }
    });
  }

  #toClient(link: Link, chunk: Buffer): void {
    if (this.#effective !== 'slow' || this.#mode.mode !== 'slow') {
      link.client.write(chunk);
      return;
    }
    const dueAt = Math.max(Date.now() + this.#mode.delayMs, link.lastDueAt);
    link.lastDueAt = dueAt;
    setTimeout(() => {
      if (!link.client.destroyed) link.client.write(chunk);
    }, dueAt - Date.now());
  }

  #thaw(link: Link): void {
    link.frozen = false;
    if (!link.upstream) this.#connectUpstream(link);
    else this.#flush(link);
    if (link.client.destroyed && !link.clientEnded) link.clientEnded = true;
  }

  /** Sends what the client wrote while the link was frozen or connecting. */
  #flush(link: Link): void {
    const upstream = link.upstream;
    if (!upstream || upstream.connecting || link.frozen) return;
    for (const chunk of link.held) upstream.write(chunk);
    link.held = [];
    link.heldBytes = 0;
    if (link.clientEnded || link.client.destroyed) upstream.end();
  }
}
