import { createAdaptorServer, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { DrillRunner } from '../../core/admin/drills.ts';
import type { Gateway } from '../../core/gateway.ts';
import type { PolicyControl } from '../../core/admin/policy-control.ts';
import { QueueCipher } from '../../core/queue/queue-cipher.ts';
import { createApp, type SecurityDeps } from '../../http/app.ts';
import type { PrometheusMetrics } from './metrics.ts';
import { dashboardAssets } from './dashboard-assets.ts';
import { createNodeOps } from './ops.ts';
import type { PolicyWatcher } from './policy-watcher.ts';
import { createExactlyOnceParts, waitForRedis } from './exactly-once.ts';
import { MemoryNonceStore } from '../../http/middleware/merchant-auth/nonce-store.ts';
import { MemoryRateLimiter } from '../../core/rate-limit/rate-limiter.ts';
import { loadMerchantKeys } from './merchant-keys.ts';
import { RedisNonceStore } from './redis/nonce-store.ts';
import { RedisRateLimiter } from './redis/rate-limiter.ts';
import { readPublicFile, readSecretFile } from './secret-file.ts';
import { warmCodePaths } from './code-warm-up.ts';
import { gracefulClose } from './graceful-close.ts';
import { answerClientErrors } from './client-error.ts';
import { readIncomingBody } from './incoming-body.ts';
import { applyRequestTimeout, CONNECTIONS_CHECKING_INTERVAL_MS } from './request-timeout.ts';
import type { RedisClient } from './redis/client.ts';
import type { Sha256Hex } from '../../core/idempotency/fingerprint.ts';
import type { RedisHealthStore } from './redis/health-store.ts';
import { InterfaceAddresses } from './interface-addresses.ts';
import { createKernelEgressProbe } from './kernel-egress-probe.ts';
import { NetworkWatch } from './network-watch.ts';
import { nodeGatewayFactory } from './node-gateway-factory.ts';
import { CarrierRouting } from './carrier-routing.ts';
import type { PathResolver } from './path-resolver.ts';
import {
  DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  type NodeGatewayOptions,
} from './server-options.ts';

/** Start waits this long at most for the first egress check, so /status is right from the first poll. */
const FIRST_EGRESS_CHECK_MS = 2_000;

export interface RunningGateway {
  url: string;
  /** The gateway of the running policy (changes when a policy is applied). */
  readonly gateway: Gateway;
  control: PolicyControl;
  drills: DrillRunner;
  metrics: PrometheusMetrics;
  watcher: PolicyWatcher | undefined;
  /** Refuses new connections, lets requests in flight finish (up to drainTimeoutMs), then stops everything. Calling it again returns the same promise. */
  close(): Promise<void>;
}

/** Connections waiting to be accepted; see the listen call. */
const LISTEN_BACKLOG = 4_096;

/** The full Node runtime: undici transports per path, opossum breakers, the Hono app on node:http. */
export async function startNodeGateway(options: NodeGatewayOptions): Promise<RunningGateway> {
  const { logger } = options;
  // Secrets first: a missing or unprotected one stops start-up before anything is opened.
  const merchants = options.policy.merchants;
  const merchantKeys =
    merchants === undefined ? undefined : (options.merchantKeys ?? loadMerchantKeys(merchants));
  const inboundTls = options.tls && {
    cert: readPublicFile(options.tls.certFile),
    key: readSecretFile(options.tls.keyFile),
  };
  const queueCipher =
    options.queueKeys && options.queueKeys.length > 0
      ? await QueueCipher.create(options.queueKeys)
      : undefined;
  // One fail-fast client shared by the Redis-backed stores; never on a payment's critical path.
  // ioredis is imported only when Redis is used: memory-only mode never loads it (about 10 MB resident).
  let redis: RedisClient | undefined;
  let healthStore: RedisHealthStore | undefined;
  if (options.redisUrl) {
    const [{ createRedisClient }, { RedisHealthStore }] = await Promise.all([
      import('./redis/client.ts'),
      import('./redis/health-store.ts'),
    ]);
    redis = createRedisClient(
      options.redisUrl,
      options.redisCommandTimeoutMs === undefined
        ? {}
        : { commandTimeout: options.redisCommandTimeoutMs },
    );
    healthStore = new RedisHealthStore(redis, { logger });
  }
  // One `ip monitor` for the process: egress checks and interface paths' addresses follow it.
  const networkWatch = new NetworkWatch();
  const interfaceAddresses = new InterfaceAddresses();
  const egressProbe =
    options.egressProbe === undefined
      ? process.platform === 'linux'
        ? createKernelEgressProbe({ watch: networkWatch })
        : undefined
      : options.egressProbe || undefined;
  // A policy applied later may add an interface path: follow addresses whenever the kernel is watched.
  const followAddresses = egressProbe
    ? networkWatch.subscribe(() => interfaceAddresses.invalidate())
    : undefined;
  // routing.manage: per-path routing tables kept by this process (follows addresses and policy applies).
  const carrierRouting = egressProbe ? new CarrierRouting({ logger }) : undefined;
  let closeRouting: (() => Promise<void>) | undefined;
  // Each path's resolver (upstreams named by a host name), for /status; a reload's new transport replaces its path's entry.
  const resolvers = new Map<string, PathResolver>();
  const ops = await createNodeOps({
    policy: options.policy,
    policyHash: options.policyHash,
    logger,
    ...(options.policyFile ? { policyFile: options.policyFile } : {}),
    ...(options.watchPolicy !== undefined ? { watchPolicy: options.watchPolicy } : {}),
    ...(options.adminTokens ? { adminTokens: options.adminTokens } : {}),
    ...(options.auditFile ? { auditFile: options.auditFile } : {}),
    ...(redis ? { redis } : {}),
    ...(options.processMetrics !== undefined ? { processMetrics: options.processMetrics } : {}),
    gatewayFactory: nodeGatewayFactory({
      logger,
      healthStore,
      instanceId: options.instanceId,
      egressProbe,
      interfaceAddresses,
      resolvers,
    }),
  });
  if (redis && !(await waitForRedis(redis)))
    logger.warn(
      { event: 'redis_unavailable' },
      'Redis not reachable at start; running on local state until it is',
    );
  const exactlyOnce = createExactlyOnceParts({
    redis,
    gateway: () => ops.control.gateway(),
    logger,
    onDeadLetter: (request) => ops.metrics.deadLetter(request.routeId),
    ...(options.idempotencyMemoryBytes !== undefined
      ? { memoryIdempotencyBytes: options.idempotencyMemoryBytes }
      : {}),
    ...(queueCipher ? { queueCipher } : {}),
  });
  ops.metrics.watchQueue(() => exactlyOnce.queue.stats(Date.now()));
  const dnsStates = () =>
    [...resolvers.values()]
      .filter((resolver) => !resolver.closed)
      .map((resolver) => ({ path: resolver.pathId, ...resolver.state() }));
  ops.metrics.watchDns(dnsStates);
  if (!redis && options.policy.routes.some((r) => r.whenAllDown === 'queue')) {
    logger.warn(
      { event: 'queue_not_durable' },
      'whenAllDown "queue" keeps its queue in memory (no --redis): queued requests are lost if the process stops',
    );
  }
  if (redis && !queueCipher && options.policy.routes.some((r) => r.whenAllDown === 'queue')) {
    logger.warn(
      { event: 'queue_key_missing' },
      'no queue key (--queue-key-file or PAYPATH_QUEUE_KEY): with --redis, requests are queued only encrypted, so none will be (503 queue_key_missing)',
    );
  }
  if (carrierRouting) {
    const current = () => ops.control.current().policy;
    await carrierRouting.sync(options.policy);
    const followRouting = networkWatch.subscribe(() => void carrierRouting.sync(current()));
    const stopApplied = ops.control.onApplied(
      (revision) => void carrierRouting.sync(revision.policy),
    );
    closeRouting = async () => {
      followRouting.close();
      stopApplied();
      await carrierRouting.close();
    };
  }
  if (options.probes ?? true) ops.control.gateway().startProbes();
  // Warm pools and the request path's code before listening; a path that cannot connect now simply stays cold.
  const sha256: Sha256Hex = (bytes) => createHash('sha256').update(bytes).digest('hex');
  const firstEgressCheck = Promise.race([
    ops.control.gateway().startEgressWatch(),
    new Promise((resolve) => setTimeout(resolve, FIRST_EGRESS_CHECK_MS).unref()),
  ]);
  await Promise.all([
    ops.control.gateway().warmUp(),
    options.warmCodePaths === false ? undefined : warmCodePaths(options.policy, sha256),
    firstEgressCheck,
  ]);
  const security: SecurityDeps = {
    merchantKeys: () => merchantKeys,
    nonceStore: redis ? new RedisNonceStore(redis, logger) : new MemoryNonceStore(),
    rateLimiter: redis ? new RedisRateLimiter(redis, logger) : new MemoryRateLimiter(),
    clientAddress: (c) => {
      try {
        return getConnInfo(c).remote.address;
      } catch {
        return undefined;
      }
    },
  };
  const dashboard =
    options.dashboardDir === false ? undefined : { assets: dashboardAssets(options.dashboardDir) };
  const app = createApp({
    ...ops.appDeps,
    logger,
    idempotencyStore: exactlyOnce.idempotencyStore,
    queue: exactlyOnce.queue,
    statusSections: {
      ...exactlyOnce.statusSections,
      dns: dnsStates,
    },
    security,
    sha256,
    readRequestBody: readIncomingBody,
    ...(dashboard ? { dashboard } : {}),
  });
  const connectionOptions = {
    // Node refuses larger header blocks itself before the app sees them (answered by answerClientErrors).
    maxHeaderSize: options.policy.limits.maxHeaderBytes,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: options.policy.limits.requestTimeoutMs,
    headersTimeout: options.policy.limits.requestTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  const server: ServerType = inboundTls
    ? createAdaptorServer({
        fetch: app.fetch,
        createServer: createHttpsServer,
        serverOptions: { ...inboundTls, minVersion: 'TLSv1.2', ...connectionOptions },
      })
    : createAdaptorServer({ fetch: app.fetch, serverOptions: connectionOptions });
  answerClientErrors(server as HttpServer, () => ops.control.gateway());
  const stopFollowingTimeout = ops.control.onApplied((_revision, gateway) =>
    applyRequestTimeout(server as HttpServer, gateway.policy.limits.requestTimeoutMs),
  );
  const closing = gracefulClose(server as HttpServer);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue: when a fleet of terminals (re)connects at once, Node's default of 511
    // overflowed in the 1,000/s drill and the kernel dropped SYNs, which clients retry only after
    // 1 s and 3 s. The kernel caps it at net.core.somaxconn.
    server.listen(
      { port: options.port ?? 8787, host: options.host ?? '127.0.0.1', backlog: LISTEN_BACKLOG },
      () => {
        server.off('error', reject);
        resolve();
      },
    );
  });
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    const inFlight = closing.inFlight;
    if (inFlight > 0)
      logger.info(
        { event: 'draining', inFlight },
        `waiting for ${inFlight} request(s) in flight to finish`,
      );
    const { cut } = await closing.drain(options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    if (cut > 0)
      logger.warn(
        { event: 'drain_timed_out', cut },
        `${cut} request(s) still unanswered when the drain timed out; their connections were cut`,
      );
    stopFollowingTimeout();
    exactlyOnce.close();
    await ops.close();
    await closeRouting?.();
    followAddresses?.close();
    healthStore?.dispose();
    redis?.disconnect();
  };
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${address.port}`,
    get gateway() {
      return ops.control.gateway();
    },
    control: ops.control,
    drills: ops.drills,
    metrics: ops.metrics,
    watcher: ops.watcher,
    close: () => (stopped ??= stop()),
  };
}
