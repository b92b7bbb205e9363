import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * What every Redis-backed store takes: one server (or a Sentinel-managed primary) or a Redis
 * Cluster. The stores use only commands both answer alike; their keys are hash-tagged so each
 * script's keys share one Cluster slot.
 */
export type RedisClient = Redis | Cluster;

/**
 * ioredis settings that keep Redis off a payment's critical path. Measured: with ioredis defaults
 * a command to a killed Redis takes ~73 s to fail and one to a hung Redis never does. With these,
 * a command fails within ~250 ms whatever Redis does, and callers fall back to local state.
 */
export const FAIL_FAST_REDIS_OPTIONS: RedisOptions = {
  /** Commands issued while disconnected fail at once instead of queueing. */
  enableOfflineQueue: false,
  /** One reconnect-retry per command, then fail. */
  maxRetriesPerRequest: 1,
  /** The only guard against a hung (SIGSTOPped, overloaded) server, with socketTimeout. */
  commandTimeout: 250,
  connectTimeout: 500,
  socketTimeout: 1_000,
  /** Keep reconnecting forever, but never wait more than 1 s between tries. */
  retryStrategy: (times) => Math.min(100 * times, 1_000),
  lazyConnect: false,
};

/**
 * The same promise for a Redis Cluster. ioredis keeps an offline queue on each node connection
 * whatever redisOptions say (its ConnectionPool sets it first), so the bounds are: the Cluster
 * refuses a command at once while it is not ready or the node's connection is down
 * (enableOfflineQueue false), and a command's 250 ms timeout starts at its first send and is not
 * restarted by a redirection, so it caps the whole command. A retry a few ms later cannot outlast
 * a node failover (seconds), so a closed connection or CLUSTERDOWN fails the command at once
 * (delay 0 disables those retries) and the caller uses local state; MOVED and ASK, which a
 * resharding or a finished failover answer, are still followed.
 */
export const FAIL_FAST_CLUSTER_OPTIONS: ClusterOptions = {
  enableOfflineQueue: false,
  redisOptions: {
    maxRetriesPerRequest: 1,
    commandTimeout: 250,
    connectTimeout: 500,
    socketTimeout: 1_000,
  },
  /** Reconnect to the cluster forever after losing every node, at most 1 s apart. */
  clusterRetryStrategy: (times) => Math.min(100 * times, 1_000),
  maxRedirections: 3,
  retryDelayOnFailover: 0,
  retryDelayOnClusterDown: 0,
  retryDelayOnTryAgain: 50,
  slotsRefreshTimeout: 500,
  /** Learn a new topology (a promoted replica) without waiting for a command to fail first. */
  slotsRefreshInterval: 5_000,
  lazyConnect: false,
};

/**
 * A Redis client for `url` with the fail-fast settings above. `redis://` and `rediss://` name one
 * server; `redis+sentinel://[:password@]host:port[,host:port…]/<master name>` names a
 * Sentinel-managed primary (the client follows failovers); `redis+cluster://` and
 * `rediss+cluster://[user:password@]host:port[,host:port…]` name nodes of a Redis Cluster (any
 * reachable one is enough: the rest are discovered). `overrides` replace single settings (e.g. the
 * gateway's redisCommandTimeoutMs as commandTimeout) for all three, on a Cluster for every node;
 * the other fail-fast settings stay.
 */
export function createRedisClient(url: string, overrides: RedisOptions = {}): RedisClient {
  const cluster = parseClusterUrl(url);
  const sentinel = cluster ? undefined : parseSentinelUrl(url);
  let client: RedisClient;
  if (cluster) {
    client = new Cluster(cluster.nodes, {
      ...FAIL_FAST_CLUSTER_OPTIONS,
      redisOptions: {
        ...FAIL_FAST_CLUSTER_OPTIONS.redisOptions,
        ...cluster.redisOptions,
        ...overrides,
      },
    });
  } else if (sentinel) {
    client = new Redis({ ...FAIL_FAST_REDIS_OPTIONS, ...sentinel, ...overrides });
  } else {
    client = new Redis(url, { ...FAIL_FAST_REDIS_OPTIONS, ...overrides });
  }
  // Connection errors are expected while Redis is down; they surface as failed commands.
  client.on('error', () => {});
  return client;
}

/** A second connection (or set of them, for a Cluster) with the same nodes and fail-fast options. */
export function duplicateClient(client: RedisClient): RedisClient {
  // Two calls because the two duplicate() signatures do not unify into one callable type.
  const copy = client instanceof Cluster ? client.duplicate() : client.duplicate();
  copy.on('error', () => {});
  return copy;
}

/** `redis+sentinel://[:password@]h1:p1,h2:p2/name` → ioredis Sentinel options, or undefined for other URLs. */
export function parseSentinelUrl(url: string): RedisOptions | undefined {
  const match = /^redis\+sentinel:\/\/(?:(?:[^:@/]*):([^@/]*)@)?([^/]+)\/([^/?#]+)\/?$/.exec(url);
  if (!url.startsWith('redis+sentinel://')) return undefined;
  if (!match)
    throw new Error('expected redis+sentinel://[:password@]host:port[,host:port...]/<master name>');
  const [, password, hosts, name] = match;
  return {
    sentinels: parseHostList(hosts!, 26379, 'sentinel'),
    name: decodeURIComponent(name!),
    ...(password ? { password: decodeURIComponent(password) } : {}),
    // Sentinels are asked quickly too, so a dead sentinel never holds a command up.
    sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1_000),
  };
}

export interface ClusterUrl {
  /** Startup nodes; the client discovers the others from whichever answers. */
  nodes: { host: string; port: number }[];
  /** Credentials and TLS, used for every node. */
  redisOptions: Pick<RedisOptions, 'username' | 'password' | 'tls'>;
}

const CLUSTER_URL_FORM = 'redis+cluster://[user:password@]host:port[,host:port...]';

/**
 * `redis+cluster://[user:password@]h1:p1,h2:p2` (or `rediss+cluster://` for TLS) → startup nodes
 * and per-node options, or undefined for other URLs. Throws, naming the problem, for a malformed one.
 */
export function parseClusterUrl(url: string): ClusterUrl | undefined {
  const scheme = /^(rediss?)\+cluster:\/\//i.exec(url);
  if (!scheme) return undefined;
  const rest = url.slice(scheme[0].length);
  // The credentials end at the last '@' (a password may not contain an unencoded '/', ',' or '@').
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : undefined;
  let hosts = at >= 0 ? rest.slice(at + 1) : rest;
  if (hosts.endsWith('/')) hosts = hosts.slice(0, -1);
  if (/[/?#]/.test(hosts)) {
    throw new Error(
      `bad Redis Cluster URL: a cluster has no database number, path or options after the node list (expected ${CLUSTER_URL_FORM})`,
    );
  }
  if (!hosts)
    throw new Error(`bad Redis Cluster URL: no node address (expected ${CLUSTER_URL_FORM})`);
  const redisOptions: ClusterUrl['redisOptions'] = {};
  if (credentials !== undefined) {
    const colon = credentials.indexOf(':');
    const username = colon >= 0 ? credentials.slice(0, colon) : credentials;
    const password = colon >= 0 ? credentials.slice(colon + 1) : '';
    if (!password)
      throw new Error(
        `bad Redis Cluster URL: credentials need a password ([user]:password@; expected ${CLUSTER_URL_FORM})`,
      );
    if (username) redisOptions.username = decodeURIComponent(username);
    redisOptions.password = decodeURIComponent(password);
  }
  if (scheme[1]!.toLowerCase() === 'rediss') redisOptions.tls = {};
  return { nodes: parseHostList(hosts, 6379, 'cluster node'), redisOptions };
}

/** `h1:p1,[::1]:p2,h3` → addresses; a missing port is `defaultPort`. */
function parseHostList(
  list: string,
  defaultPort: number,
  what: string,
): { host: string; port: number }[] {
  return list.split(',').map((entry) => {
    const bracket = entry.startsWith('[') ? entry.indexOf(']') : -1;
    const at = bracket >= 0 ? entry.indexOf(':', bracket) : entry.lastIndexOf(':');
    const host = at > 0 ? entry.slice(0, at) : entry;
    const port = at > 0 ? Number(entry.slice(at + 1)) : defaultPort;
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    if (
      !bare ||
      /[\s[\]@]/.test(bare) ||
      (bracket < 0 && bare.includes(':')) ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535
    ) {
      throw new Error(`bad ${what} address "${entry}" (expected host:port)`);
    }
    return { host: bare, port };
  });
}
