import { isIP, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { Agent, buildConnector, Dispatcher } from 'undici';
import { AttemptError, type AttemptErrorCode } from '../../core/attempt-error.ts';
import { upstreamHost } from '../../core/egress/path-egress.ts';
import type { PathConfig } from '../../core/policy/schema.ts';
import { PathResolver } from './path-resolver.ts';
import type { DnsCacheOptions, DnsChange } from './path-resolver-types.ts';
import { readPublicFile, readSecretFile } from './secret-file.ts';
import type { InterfaceAddresses } from './interface-addresses.ts';
import type { AttemptOptions, PathTransport, UpstreamRequest, UpstreamResponse } from '../../core/transport.ts';

// Only undici's Agent and connector, from their own modules: undici's index also loads its fetch,
// WebSocket, cache, mock and proxy modules, which the gateway never uses (about 12 MB resident).
// undici is pinned in package.json; undici-transport.test.ts fails if these paths move.
const require = createRequire(import.meta.url);
const UndiciAgent = require('undici/lib/dispatcher/agent.js') as typeof Agent;
const buildUndiciConnector = require('undici/lib/core/connect.js') as typeof buildConnector;

/** Answers up to this size are taken whole before they are passed on; larger ones stream. */
const BUFFERED_BODY_LIMIT = 65_536;

export interface UndiciTransportOptions {
  /** Idle keep-alive connections are closed after this, in ms. Default: 30000. */
  keepAliveTimeoutMs?: number;
  /** Most connections per path. Default: 256. */
  connections?: number;
  /** Called when a TLS handshake with the upstream fails (bad or expired certificate, old protocol), to log it loudly. */
  onTlsFailure?: (pathId: string, error: AttemptError) => void;
  /** Current interface addresses, for paths that name an `interface`. Required for those. */
  interfaceAddresses?: InterfaceAddresses;
  /** How the path's DNS answers are cached (upstreams named by a host name). Default: DNS_CACHE_DEFAULTS. */
  dns?: DnsCacheOptions;
  /** Called when the path's lookups start failing and when they recover, to log it. */
  onDnsChange?: (change: DnsChange) => void;
  /** Called with the path's resolver when one is created (an upstream named by a host name), before its first lookup: to show its state, or to `adopt` the answers of the resolver it replaces. */
  onResolver?: (resolver: PathResolver) => void;
}

/**
 * undici connect options for the path's `tls` settings: CA, client certificate (mTLS), server
 * name, and TLS 1.2 or newer always. Certificates are always verified (never rejectUnauthorized: false).
 * Files are read once, here; a private key file must be mode 0600.
 */
export function tlsConnectOptions(path: PathConfig): Record<string, unknown> {
  const tls = path.tls;
  return {
    rejectUnauthorized: true,
    minVersion: tls?.minVersion ?? 'TLSv1.2',
    ...(tls?.ca !== undefined ? { ca: readPublicFile(tls.ca) } : {}),
    ...(tls?.cert !== undefined ? { cert: readPublicFile(tls.cert) } : {}),
    ...(tls?.key !== undefined ? { key: readSecretFile(tls.key) } : {}),
    ...(tls?.servername !== undefined ? { servername: tls.servername } : {}),
  };
}

/**
 * One undici Agent per path: its own keep-alive pool, its own connect timeout, and the path's
 * source address (the carrier's interface): `bind`, or the current address of `interface`.
 * Note: undici honours `localAddress` only as an Agent option; `connect.localAddress` is silently ignored.
 *
 * An `interface:` path follows its address: when it changes (an LTE reconnect), the next attempt
 * gets a new pool bound to the new address and the old one is closed; while the interface has no
 * address, every attempt fails at once as not sent (`address_unavailable`), so it goes to another path.
 */
export function createUndiciTransport(path: PathConfig, options: UndiciTransportOptions = {}): PathTransport {
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 30_000;
  // undici's own connector (TCP, TLS with the path's settings for https), wrapped so connecting can run ahead of sending.
  const tlsOptions = path.upstream.startsWith('https:') ? tlsConnectOptions(path) : {};
  const base = new URL(path.upstream);
  const origin = base.origin;
  const basePath = base.pathname.replace(/\/$/, '');
  const hostname = upstreamHost(path.upstream);
  const iface = path.interface;
  const addresses = options.interfaceAddresses;
  if (iface !== undefined && addresses === undefined) throw new Error(`path ${path.id} names interface ${iface}: the transport needs interfaceAddresses`);
  // An IPv6 upstream needs an IPv6 source; a host name is reached over IPv4 from an interface path.
  const family: 4 | 6 = hostname.includes(':') ? 6 : 4;
  // A host name is resolved through this path (its resolvers, from its address), from a cache that
  // is kept fresh in the background: see path-resolver.ts. Its lookup is started now, before any request.
  // An interface path's queries follow its address (setLocalAddress when the pool moves).
  const resolver =
    isIP(hostname) === 0
      ? new PathResolver({
          pathId: path.id,
          servers: path.dns,
          localAddress: path.bind,
          ...(iface !== undefined ? { families: [family] } : {}),
          ...options.dns,
          ...(options.onDnsChange ? { onChange: options.onDnsChange } : {}),
        })
      : undefined;
  if (resolver) options.onResolver?.(resolver);
  resolver?.prime(hostname);
  const connectOptions = { timeout: path.connectTimeoutMs, ...tlsOptions, ...(resolver ? { lookup: resolver.nodeLookup } : {}) };
  const openPool = (localAddress: string | undefined): Pool => {
    const connector = new PreConnector(buildUndiciConnector(connectOptions as buildConnector.BuildOptions), keepAliveTimeoutMs);
    const agent = new UndiciAgent({
      connect: connector.connect,
      ...(localAddress ? { localAddress } : {}),
      keepAliveTimeout: keepAliveTimeoutMs,
      connections: options.connections ?? 256,
      // Timeouts are the failover engine's (per attempt, per deadline); the agent's own are backstops.
      headersTimeout: 0,
    });
    const target: ConnectTarget = {
      hostname,
      host: base.host,
      protocol: base.protocol,
      port: base.port || (base.protocol === 'https:' ? '443' : '80'),
      servername: null,
      localAddress: localAddress ?? null,
    };
    return { localAddress, agent, connector, target, idle: () => (agent.stats as Record<string, { free?: number }>)[origin]?.free ?? 0 };
  };
  const closePool = async (pool: Pool) => {
    pool.connector.close();
    await pool.agent.close();
  };

  let pool: Pool | undefined = iface === undefined ? openPool(path.bind) : undefined;
  const retired = new Set<Promise<void>>();
  let lastUpstreamAddress: string | undefined;
  /** The pool bound to the path's address now, or an AttemptError (not sent) while the interface has none. */
  const current = (): Pool => {
    if (iface === undefined) return pool!;
    const address = addresses!.address(iface, family);
    if (address === undefined) throw new AttemptError('address_unavailable', 'not_sent', `interface ${iface} has no IPv${family} address`);
    if (pool?.localAddress !== address) {
      const old = pool;
      if (old) {
        lastUpstreamAddress = old.connector.upstreamAddress ?? lastUpstreamAddress;
        // Requests still on the old address finish or fail on their own; nothing new goes there.
        const closing = closePool(old).catch(() => {}).finally(() => retired.delete(closing));
        retired.add(closing);
      }
      resolver?.setLocalAddress(address);
      pool = openPool(address);
    }
    return pool;
  };
  /** Runs `use` on the current pool; while the interface has no address, rejects with that (not sent). */
  const withCurrent = <T>(use: (active: Pool) => Promise<T>): Promise<T> => {
    let active: Pool;
    try {
      active = current();
    } catch (error) {
      return Promise.reject(error as AttemptError);
    }
    return use(active);
  };

  const onTlsFailure = options.onTlsFailure;
  return {
    send: (request, attempt) =>
      withCurrent((active) =>
        dispatch(active.agent, origin, basePath + request.target, request, attempt).catch((error: unknown) => {
          if (error instanceof AttemptError) {
            if (error.code === 'tls_failed') onTlsFailure?.(path.id, error);
            // The address went away under us: read the interface again on the next attempt.
            if (error.code === 'address_unavailable') addresses?.invalidate();
          }
          throw error;
        }),
      ),
    close: async () => {
      resolver?.close();
      await Promise.all([...(pool ? [closePool(pool)] : []), ...retired]);
    },
    connect: (signal) =>
      withCurrent((active) => (active.idle() > 0 || active.connector.parkedCount > 0 ? Promise.resolve() : active.connector.preconnect(active.target, signal))),
    warm: (count) =>
      withCurrent(async (active) => {
        const wanted = Math.max(0, count - active.idle() - active.connector.parkedCount - active.connector.connectingCount);
        await Promise.allSettled(Array.from({ length: wanted }, () => active.connector.preconnect(active.target, AbortSignal.timeout(path.connectTimeoutMs))));
      }).catch(() => {}), // nothing to warm while the interface has no address
    upstreamAddress: () => pool?.connector.upstreamAddress ?? lastUpstreamAddress,
  };
}

interface Pool {
  localAddress: string | undefined;
  agent: Agent;
  connector: PreConnector;
  target: ConnectTarget;
  idle: () => number;
}

interface ConnectTarget {
  hostname: string;
  host: string;
  protocol: string;
  port: string;
  servername: string | null;
  localAddress: string | null;
}

type Connector = ReturnType<typeof buildConnector>;

/**
 * Separates "get a connected socket" from "send on it", for connect hedging. `preconnect` opens a
 * connection (TCP, and TLS for https) exactly as undici would and parks it; undici's next new
 * connection on this path takes a parked socket instead of dialling. So the engine can wait for a
 * connection on one path or another and then send on the first path that has one: nothing is
 * written before that, so the request's bytes go out exactly once.
 */
class PreConnector {
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
  readonly connect = (options: buildConnector.Options, callback: buildConnector.Callback): unknown => {
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
        reject(new AttemptError('connect_timeout', 'not_sent', 'not connected before the connect was given up'));
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

function dispatch(agent: Agent, origin: string, target: string, request: UpstreamRequest, attempt: AttemptOptions): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const handler = new AttemptHandler(resolve, reject, attempt.signal);
    agent.dispatch(
      {
        origin,
        path: target,
        method: request.method as Dispatcher.HttpMethod,
        headers,
        body: request.body === null ? null : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength),
        bodyTimeout: attempt.bodyTimeoutMs,
      },
      handler,
    );
  });
}

/**
 * Follows one request through undici's dispatch hooks. `onRequestStart` runs just before the
 * first byte is written, which is what separates "not sent" from "sent" when something fails.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  #sent = false;
  #settled = false;
  #controller: Dispatcher.DispatchController | undefined;
  #stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  #buffered: { status: number; headers: Headers; chunks: Buffer[]; length: number } | undefined;
  readonly #signal: AbortSignal;
  readonly #onAbort = () => this.#abort();
  readonly #resolve: (response: UpstreamResponse) => void;
  readonly #reject: (error: AttemptError) => void;

  constructor(resolve: (response: UpstreamResponse) => void, reject: (error: AttemptError) => void, signal: AbortSignal) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    if (signal.aborted) queueMicrotask(this.#onAbort);
    else signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#settled) {
      controller.abort(new Error('attempt already given up'));
      return;
    }
    this.#sent = true;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx informational: wait for the final answer
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(headers)) {
      if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
      else if (value !== undefined) responseHeaders.append(name, value);
    }
    const length = Number(headers['content-length'] ?? NaN);
    this.#buffered = { status: statusCode, headers: responseHeaders, chunks: [], length: 0 };
    if (length > BUFFERED_BODY_LIMIT) this.#startStreaming(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // undici's resume() feeds the parser an empty buffer; passing that on would pause again at once, for ever.
    if (chunk.byteLength === 0) return;
    const buffered = this.#buffered;
    if (buffered && !this.#stream) {
      buffered.chunks.push(chunk);
      buffered.length += chunk.byteLength;
      if (buffered.length > BUFFERED_BODY_LIMIT) this.#startStreaming(controller);
      return;
    }
    const stream = this.#stream;
    if (!stream) return;
    stream.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((stream.desiredSize ?? 0) <= 0) controller.pause();
  }

  /** A large answer: pass the headers on now and stream the body, with what arrived so far first. */
  #startStreaming(controller: Dispatcher.DispatchController): void {
    const buffered = this.#buffered!;
    this.#signal.removeEventListener('abort', this.#onAbort);
    const body = new ReadableStream<Uint8Array>(
      {
        start: (stream) => {
          this.#stream = stream;
          for (const chunk of buffered.chunks) stream.enqueue(chunk);
          buffered.chunks = [];
        },
        pull: () => controller.resume(),
        cancel: (reason) => controller.abort(reason instanceof Error ? reason : new Error('response body cancelled')),
      },
      { highWaterMark: 1 },
    );
    this.#settle(() => this.#resolve({ status: buffered.status, headers: buffered.headers, body }));
  }

  onResponseEnd(): void {
    const buffered = this.#buffered;
    if (buffered && !this.#stream) {
      this.#signal.removeEventListener('abort', this.#onAbort);
      const body = buffered.chunks.length === 1 ? buffered.chunks[0]! : Buffer.concat(buffered.chunks, buffered.length);
      this.#settle(() => this.#resolve({ status: buffered.status, headers: buffered.headers, body: buffered.length === 0 ? null : body }));
      return;
    }
    this.#stream?.close();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (this.#stream) {
      // Headers were already passed on: the body breaks off, the client sees a truncated response.
      this.#stream.error(error);
      return;
    }
    this.#settle(() => this.#reject(classify(error, this.#sent)));
  }

  #abort(): void {
    const sent = this.#sent;
    this.#settle(() =>
      this.#reject(
        sent
          ? new AttemptError('response_timeout', 'sent', 'no response before the attempt timeout')
          : new AttemptError('connect_timeout', 'not_sent', 'not connected before the attempt timeout'),
      ),
    );
    this.#controller?.abort(new Error('attempt timed out'));
  }

  #settle(action: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    action();
  }
}

const NOT_SENT_CODES: Record<string, AttemptErrorCode> = {
  ECONNREFUSED: 'connect_refused',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ETIMEDOUT: 'connect_timeout',
  EADDRNOTAVAIL: 'address_unavailable',
  ENETUNREACH: 'network_unreachable',
  EHOSTUNREACH: 'network_unreachable',
  ENOTFOUND: 'dns_failed',
  EAI_AGAIN: 'dns_failed',
};

/**
 * Node's TLS errors (ERR_TLS_*, ERR_SSL_*) and OpenSSL's certificate verification codes
 * (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, HOSTNAME_MISMATCH, INVALID_CA, ...).
 */
const TLS_ERROR_CODE = /^ERR_(TLS|SSL)_|CERT|CRL|SELF_SIGNED|^UNABLE_TO_|^INVALID_(CA|PURPOSE)$|^PATH_LENGTH_EXCEEDED$|^HOSTNAME_MISMATCH$/;

/** Maps an undici/socket error to what reached the wire. Before onRequestStart, nothing did. */
export function classify(error: Error, sent: boolean): AttemptError {
  const code = (error as { code?: string }).code ?? '';
  if (!sent) {
    const mapped =
      NOT_SENT_CODES[code] ??
      (TLS_ERROR_CODE.test(code) ? 'tls_failed' : 'connect_reset');
    return new AttemptError(mapped, 'not_sent', `${code || error.name}: ${error.message}`, { cause: error });
  }
  const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
  return new AttemptError(timeout ? 'response_timeout' : 'connection_lost', 'sent', `${code || error.name}: ${error.message}`, { cause: error });
}
