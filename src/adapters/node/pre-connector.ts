import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { AttemptError } from '../../core/attempt-error.ts';
import { classify } from './undici-dispatch.ts';

/** What undici hands a connector: where to connect, and the source address to bind (null: the kernel's choice). */
export interface ConnectTarget {
  hostname: string;
  host: string;
  protocol: string;
  port: string;
  servername: string | null;
  localAddress: string | null;
}

export type Connector = ReturnType<typeof buildConnector>;

/**
 * Separates "get a connected socket" from "send on it", for connect hedging. `preconnect` opens a
 * connection (TCP, and TLS for https) exactly as undici would and parks it; undici's next new
 * connection on this path takes a parked socket instead of dialling. So the engine can wait for a
 * connection on one path or another and then send on the first path that has one: nothing is
 * written before that, so the request's bytes go out exactly once.
 */
export class PreConnector {
  readonly #base: Connector;
  readonly #idleMs: number;
  readonly #parked: Socket[] = [];
  readonly #drops = new WeakMap<Socket, () => void>();
  readonly #closed = new AbortController();
  #connecting = 0;
  /** Where the last connection of this path went (the upstream's address, after DNS). */
  upstreamAddress: string | undefined;

  constructor(base: Connector, idleMs: number) {
    this.#base = base;
    this.#idleMs = idleMs;
  }

  get parkedCount(): number {
    return this.#parked.length;
  }

  /** Preconnects still under way: a top-up while the last one connects must not open them again. */
  get connectingCount(): number {
    return this.#connecting;
  }

  /** undici's connector: a parked socket when there is one, else a fresh connection. */
  readonly connect = (
    options: buildConnector.Options,
    callback: buildConnector.Callback,
  ): unknown => {
    let socket = this.#parked.shift();
    while (socket && (socket.destroyed || !socket.writable)) socket = this.#parked.shift();
    if (!socket) {
      return this.#base(options, ((error: Error | null, connected: Socket | null) => {
        if (connected) this.upstreamAddress = connected.remoteAddress ?? this.upstreamAddress;
        (callback as (error: Error | null, socket: Socket | null) => void)(error, connected);
      }) as buildConnector.Callback);
    }
    const drop = this.#drops.get(socket);
    socket.setTimeout(0);
    if (drop) {
      socket.off('timeout', drop);
      socket.off('close', drop);
    }
    queueMicrotask(() => callback(null, socket as Parameters<buildConnector.Callback>[1] & object));
    return socket;
  };

  preconnect(target: ConnectTarget, callerSignal: AbortSignal): Promise<void> {
    // Closing the transport ends connects still under way too (a hedge leaves its losers running).
    const signal = AbortSignal.any([callerSignal, this.#closed.signal]);
    this.#connecting++;
    const connected = new Promise<void>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        (pending as Socket | undefined)?.destroy();
        reject(
          new AttemptError(
            'connect_timeout',
            'not_sent',
            'not connected before the connect was given up',
          ),
        );
      };
      const pending = this.#base(target as buildConnector.Options, (error, socket) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) {
          socket?.destroy();
          return;
        }
        settled = true;
        if (error || !socket) return reject(classify(error ?? new Error('no socket'), false));
        this.upstreamAddress = (socket as Socket).remoteAddress ?? this.upstreamAddress;
        this.#park(socket as Socket);
        resolve();
      }) as unknown;
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    return connected.finally(() => this.#connecting--);
  }

  close(): void {
    this.#closed.abort();
    for (const socket of this.#parked.splice(0)) socket.destroy();
  }

  #park(socket: Socket): void {
    this.#parked.push(socket);
    const drop = () => {
      const index = this.#parked.indexOf(socket);
      if (index >= 0) this.#parked.splice(index, 1);
      socket.destroy();
    };
    // An unused parked socket is closed like an idle keep-alive connection.
    this.#drops.set(socket, drop);
    socket.on('error', () => {}); // a parked socket's error shows as 'close'; undici adds its own handler on hand-over
    socket.setTimeout(this.#idleMs);
    socket.on('timeout', drop);
    socket.once('close', drop);
  }
}
