import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type { Agent, buildConnector } from 'undici';
import { AttemptError } from '../../core/attempt-error.ts';
import { upstreamHost } from '../../core/egress/path-egress.ts';
import type { PathConfig } from '../../core/policy/schema.ts';
import { PathResolver } from './path-resolver.ts';
import type { DnsCacheOptions, DnsChange } from './path-resolver-types.ts';
import type { AddressFamily } from './dns-query.ts';
import { familyRaceConnector } from './family-race.ts';
import { readPublicFile, readSecretFile } from './secret-file.ts';
import type { InterfaceAddresses } from './interface-addresses.ts';
import type { PathTransport } from '../../core/transport.ts';
import { PreConnector, type ConnectTarget } from './pre-connector.ts';
import { dispatch } from './undici-dispatch.ts';

// Only undici's Agent and connector, from their own modules: undici's index also loads its fetch,
// WebSocket, cache, mock and proxy modules, which the gateway never uses (about 12 MB resident).
// undici is pinned in package.json; undici-transport.test.ts fails if these paths move.
const require = createRequire(import.meta.url);
const UndiciAgent = require('undici/lib/dispatcher/agent.js') as typeof Agent;
const buildUndiciConnector = require('undici/lib/core/connect.js') as typeof buildConnector;

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
 * source address (the carrier's interface): `bind`, or the current addresses of `interface`.
 * Note: undici honours `localAddress` only as an Agent option; `connect.localAddress` is silently ignored.
 *
 * An `interface:` path connects through a family race (family-race.ts): to a host name, IPv6 first
 * and IPv4 after `connectAttemptDelayMs` (Happy Eyeballs), each connect bound to the interface's
 * address of its family; to an IP literal, from the interface's address of the literal's family.
 * It follows its addresses: when either changes (an LTE reconnect), the next attempt gets a new
 * pool and the old one is closed; while the interface has no usable address, every attempt fails
 * at once as not sent (`address_unavailable`), so it goes to another path.
 */
export function createUndiciTransport(
  path: PathConfig,
  options: UndiciTransportOptions = {},
): PathTransport {
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 30_000;
  // undici's own connector (TCP, TLS with the path's settings for https), wrapped so connecting can run ahead of sending.
  const tlsOptions = path.upstream.startsWith('https:') ? tlsConnectOptions(path) : {};
  const base = new URL(path.upstream);
  const origin = base.origin;
  const basePath = base.pathname.replace(/\/$/, '');
  const hostname = upstreamHost(path.upstream);
  const iface = path.interface;
  const addresses = options.interfaceAddresses;
  if (iface !== undefined && addresses === undefined)
    throw new Error(
      `path ${path.id} names interface ${iface}: the transport needs interfaceAddresses`,
    );
  // An IP literal is reached in its own family; a host name in both, IPv6 first.
  const literal = isIP(hostname);
  const families: AddressFamily[] = literal === 4 ? [4] : literal === 6 ? [6] : [6, 4];
  // A host name is resolved through this path (its resolvers, from its address), from a cache that
  // is kept fresh in the background: see path-resolver.ts. Its lookup is started now, before any request.
  // An interface path's queries follow its addresses (setLocalAddresses when the pool moves).
  const resolver =
    literal === 0
      ? new PathResolver({
          pathId: path.id,
          servers: path.dns,
          localAddress: path.bind,
          ...(iface !== undefined ? { families } : {}),
          ...options.dns,
          ...(options.onDnsChange ? { onChange: options.onDnsChange } : {}),
        })
      : undefined;
  if (resolver) options.onResolver?.(resolver);
  resolver?.prime(hostname);
  const lookup = (name: string) =>
    resolver ? resolver.lookup(name) : [{ address: name, family: literal as AddressFamily }];
  const connectOptions = {
    timeout: path.connectTimeoutMs,
    ...tlsOptions,
    ...(resolver ? { lookup: resolver.nodeLookup } : {}),
  };
  /** A pool from `localAddress` (a `bind` path), or racing the interface's `sources` (an interface path). */
  const openPool = (
    key: string,
    localAddress: string | undefined,
    sources?: Partial<Record<AddressFamily, string>>,
  ): Pool => {
    const undiciConnector = buildUndiciConnector(connectOptions as buildConnector.BuildOptions);
    const connect = sources
      ? familyRaceConnector(undiciConnector, {
          lookup,
          sources,
          attemptDelayMs: path.connectAttemptDelayMs,
        })
      : undiciConnector;
    const connector = new PreConnector(connect, keepAliveTimeoutMs);
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
    return {
      key,
      agent,
      connector,
      target,
      idle: () => (agent.stats as Record<string, { free?: number }>)[origin]?.free ?? 0,
    };
  };
  const closePool = async (pool: Pool) => {
    pool.connector.close();
    await pool.agent.close();
  };

  let pool: Pool | undefined =
    iface === undefined ? openPool(path.bind ?? '', path.bind) : undefined;
  const retired = new Set<Promise<void>>();
  let lastUpstreamAddress: string | undefined;
  /** The pool from the interface's addresses now, or an AttemptError (not sent) while it has none of the path's families. */
  const current = (): Pool => {
    if (iface === undefined) return pool!;
    const sources: Partial<Record<AddressFamily, string>> = {};
    for (const family of families) sources[family] = addresses!.address(iface, family);
    const found = families
      .map((family) => sources[family])
      .filter((address) => address !== undefined);
    if (found.length === 0)
      throw new AttemptError(
        'address_unavailable',
        'not_sent',
        `interface ${iface} has no ${families.map((f) => `IPv${f}`).join(' or ')} address`,
      );
    const key = found.join(' ');
    if (pool?.key !== key) {
      const old = pool;
      if (old) {
        lastUpstreamAddress = old.connector.upstreamAddress ?? lastUpstreamAddress;
        // Requests still on the old addresses finish or fail on their own; nothing new goes there.
        const closing = closePool(old)
          .catch(() => {})
          .finally(() => retired.delete(closing));
        retired.add(closing);
      }
      resolver?.setLocalAddresses(found);
      pool = openPool(key, undefined, sources);
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
        dispatch(active.agent, origin, basePath + request.target, request, attempt).catch(
          (error: unknown) => {
            if (error instanceof AttemptError) {
              if (error.code === 'tls_failed') onTlsFailure?.(path.id, error);
              // The address went away under us: read the interface again on the next attempt.
              if (error.code === 'address_unavailable') addresses?.invalidate();
            }
            throw error;
          },
        ),
      ),
    close: async () => {
      resolver?.close();
      await Promise.all([...(pool ? [closePool(pool)] : []), ...retired]);
    },
    connect: (signal) =>
      withCurrent((active) =>
        active.idle() > 0 || active.connector.parkedCount > 0
          ? Promise.resolve()
          : active.connector.preconnect(active.target, signal),
      ),
    warm: (count) =>
      withCurrent(async (active) => {
        const wanted = Math.max(
          0,
          count - active.idle() - active.connector.parkedCount - active.connector.connectingCount,
        );
        await Promise.allSettled(
          Array.from({ length: wanted }, () =>
            active.connector.preconnect(active.target, AbortSignal.timeout(path.connectTimeoutMs)),
          ),
        );
      }).catch(() => {}), // nothing to warm while the interface has no address
    upstreamAddress: () => pool?.connector.upstreamAddress ?? lastUpstreamAddress,
  };
}

interface Pool {
  /** The source addresses it was opened with: a change opens a new pool. */
  key: string;
  agent: Agent;
  connector: PreConnector;
  target: ConnectTarget;
  idle: () => number;
}
