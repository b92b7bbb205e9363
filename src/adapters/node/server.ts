import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { OpossumBreaker } from '../../core/breaker/opossum-breaker.ts';
import { Gateway } from '../../core/gateway.ts';
import type { Logger } from '../../core/logger.ts';
import type { Policy } from '../../core/policy/schema.ts';
import { createApp } from '../../http/app.ts';
import { createExactlyOnceParts, waitForRedis } from './exactly-once.ts';
import { createRedisClient } from './redis/client.ts';
import { RedisHealthStore } from './redis/health-store.ts';
import { createUndiciTransport } from './undici-transport.ts';

export interface NodeGatewayOptions {
  policy: Policy;
  policyHash: string;
  /** Default: 8787. 0 picks a free port. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Shared state (health, idempotency, queue) lives here when set. Default: none (in-memory, single instance). */
  redisUrl?: string;
  logger: Logger;
  /** Names this instance in shared health state and alarms. Default: a random id. */
  instanceId?: string;
  /** Start active probes (when the policy enables them). Default: true. */
  probes?: boolean;
}

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  close(): Promise<void>;
}

/** The full Node runtime: undici transports per path, opossum breakers, the Hono app on node:http. */
export async function startNodeGateway(options: NodeGatewayOptions): Promise<RunningGateway> {
  const { logger } = options;
  // One fail-fast client shared by the Redis-backed stores; never on a payment's critical path.
  const redis = options.redisUrl ? createRedisClient(options.redisUrl) : undefined;
  const healthStore = redis ? new RedisHealthStore(redis, { logger }) : undefined;
  const gateway = new Gateway({
    ...(healthStore ? { healthStore } : {}),
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    logger,
    policy: options.policy,
    policyHash: options.policyHash,
    transportFactory: (path) => createUndiciTransport(path),
    breakerFactory: (config) => new OpossumBreaker(config),
    onTransition: (pathId, t) => {
      const fields = { event: 'breaker_transition', path: pathId, from: t.from, to: t.to, reason: t.reason };
      if (t.to === 'closed') logger.info(fields, `path ${pathId} ${t.from} -> ${t.to}`);
      else logger.warn(fields, `path ${pathId} ${t.from} -> ${t.to}`);
    },
  });
  if (redis && !(await waitForRedis(redis))) logger.warn({ event: 'redis_unavailable' }, 'Redis not reachable at start; running on local state until it is');
  const exactlyOnce = createExactlyOnceParts({ redis, gateway: () => gateway, logger });
  if (!redis && options.policy.routes.some((r) => r.whenAllDown === 'queue')) {
    logger.warn({ event: 'queue_not_durable' }, 'whenAllDown "queue" keeps its queue in memory (no --redis): queued requests are lost if the process stops');
  }
  if (options.probes ?? true) gateway.startProbes();
  // Warm pools before listening; a path that cannot connect now simply stays cold.
  await gateway.warmUp();
  const app = createApp({
    gateway: () => gateway,
    logger,
    idempotencyStore: exactlyOnce.idempotencyStore,
    queue: exactlyOnce.queue,
    statusSections: exactlyOnce.statusSections,
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 8787, hostname: options.host ?? '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    gateway,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      exactlyOnce.close();
      await gateway.close();
      healthStore?.dispose();
      redis?.disconnect();
    },
  };
}
