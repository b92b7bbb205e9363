import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type { Agent, buildConnector } from 'undici';
import { AttemptError } from '../../core/failover/attempt-error.ts';
import { upstreamHost } from '../../core/egress/path-egress.ts';
import type { PathConfig } from '../../core/policy/schema.ts';
import { PathResolver, type DnsCacheOptions, type DnsChange } from './path-resolver.ts';
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
  // An interface path's queries follow its address (setLocalAddresses when the pool moves).
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
      resolver?.setLocalAddresses([address]);
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
