// Cloudflare Workers entry: the same Hono app as on Node, built from Workers-safe parts.
// Nothing is created at module scope (workerd forbids timers there); the gateway is built on the
// first request and kept for the isolate's life. Breakers keep no timers (TimestampBreaker), and
// probes have no loop: due ones ride on incoming requests, and a Cron Trigger runs a round.
import { AsyncLocalStorage } from 'node:async_hooks';
import { TimestampBreaker } from '../../core/breaker/timestamp-breaker.ts';
import { PaypathError } from '../../core/errors.ts';
import { Gateway } from '../../core/gateway.ts';
import type { ProbeResult } from '../../core/health/probe.ts';
import { formatIssue, parsePolicy } from '../../core/policy/parse.ts';
import { policyHash } from '../../core/policy/hash.ts';
import type { Policy } from '../../core/policy/schema.ts';
import { createApp, type SecurityDeps } from '../../http/app.ts';
import { parseKeyring } from '../../http/middleware/merchant-auth/keyring.ts';
import { createFetchTransport } from './fetch-transport.ts';
import { connectRedis } from './redis-connect.ts';
import { WorkerRedisHealthStore } from './redis-health-store.ts';

/** The parts of workerd's ExecutionContext paypath uses (kept local so the Node type set stays the only global one). */
export interface WorkerContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
  props: unknown;
}

/** The parts of workerd's ScheduledController paypath reads. */
export interface WorkerScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

export interface WorkerEnv {
  /** The policy document (YAML or JSON), from a var or a secret. */
  PAYPATH_POLICY?: string;
  /** Shared health with every other instance (Workers and Node) on this Redis. Default: none. */
  REDIS_URL?: string;
}

interface Built {
  source: string;
  app: ReturnType<typeof createApp>;
  gateway: Gateway;
  health: WorkerRedisHealthStore | undefined;
}

let built: Promise<Built> | undefined;

/**
 * The event (request or Cron run) whose code is running. A probe is kept alive with the waitUntil
 * of the event that started it, whatever started it (a due probe, a Cron round, a cold path probed
 * on demand after a transition): awaiting work that belongs to another event does not keep an
 * event alive in workerd.
 */
const currentEvent = new AsyncLocalStorage<WorkerContext>();

/**
 * Merchant keys on Workers come from a Worker secret named by the policy's merchants.keys.env
 * (there are no files). Nonces and buckets live in the isolate's memory: a replay that lands on
 * another isolate is caught by the processor's idempotency key, not here (docs/security.md).
 */
function workerSecurity(policy: Policy, env: WorkerEnv): SecurityDeps {
  const merchants = policy.merchants;
  if (merchants === undefined) return {};
  const variable = merchants.keys.env;
  if (variable === undefined)
    throw new PaypathError(
      'internal_error',
      500,
      'merchants.keys.file is not available on Workers; use keys: { env: NAME } with a Worker secret',
    );
  const text = (env as Record<string, unknown>)[variable];
  if (typeof text !== 'string')
    throw new PaypathError(
      'internal_error',
      500,
      `Worker secret ${variable} (merchant keys) is not set`,
    );
  let keys: ReturnType<typeof parseKeyring>;
  try {
    keys = parseKeyring(text, `Worker secret ${variable}`);
  } catch (error) {
    throw new PaypathError('internal_error', 500, (error as Error).message);
  }
  // On Cloudflare, cf-connecting-ip is set by the edge and cannot be forged by the client.
  return { merchantKeys: () => keys, clientAddress: (c) => c.req.header('cf-connecting-ip') };
}

async function build(source: string, env: WorkerEnv): Promise<Built> {
  const parsed = parsePolicy(source);
  if (!parsed.ok) {
    throw new PaypathError(
      'internal_error',
      500,
      `PAYPATH_POLICY is invalid: ${parsed.issues.map((i) => formatIssue(i)).join('; ')}`,
    );
  }
  const redisUrl = env.REDIS_URL;
  const health = redisUrl
    ? new WorkerRedisHealthStore({ connect: () => connectRedis(redisUrl) })
    : undefined;
  const gateway = new Gateway({
    policy: parsed.policy,
    policyHash: await policyHash(parsed.policy),
    transportFactory: (path) => createFetchTransport(path),
    breakerFactory: (config) => new TimestampBreaker(config),
    instanceId: `worker-${crypto.randomUUID().slice(0, 8)}`,
    // The event that started a probe also delivers the alarms its result raises: a delivery still
    // running when its event ends is cut off (and would fail whoever awaits it later).
    onProbeStart: (probe) =>
      currentEvent.getStore()?.waitUntil(probe.then(() => gateway.alarmDeliveries())),
    ...(health ? { healthStore: health } : {}),
  });
  return {
    source,
    app: createApp({ gateway: () => gateway, security: workerSecurity(parsed.policy, env) }),
    gateway,
    health,
  };
}

/** This isolate's gateway for the policy in `env`, built on first use and rebuilt when the policy changes. */
async function gatewayFor(env: WorkerEnv): Promise<Built> {
  const source = env.PAYPATH_POLICY;
  if (!source) throw new PaypathError('internal_error', 500, 'PAYPATH_POLICY is not set');
  if (!built || (await built).source !== source) built = build(source, env);
  return built;
}

/**
 * Work after a request's answer: share its transitions at once, then those of the probes it
 * started, and deliver the redundancy alarms they raised (nothing outlives the request otherwise).
 */
async function afterAnswer(
  gateway: Gateway,
  health: WorkerRedisHealthStore | undefined,
  probing: Promise<ProbeResult[]>,
): Promise<void> {
  const shared = health?.sync();
  const probed = await probing.catch(() => []);
  if (probed.length > 0) await health?.sync();
  await shared;
  await gateway.alarmDeliveries();
}

async function handleFetch(
  request: Request,
  env: WorkerEnv,
  ctx: WorkerContext,
): Promise<Response> {
  try {
    const current = await gatewayFor(env);
    // Probes that are due (their last one is older than their interval) start now and run beside
    // the request; the answer never waits for them. One isolate never runs a path's probe twice at once.
    const probing = current.gateway.probeDue();
    const response = await current.app.fetch(request, env, ctx);
    ctx.waitUntil(afterAnswer(current.gateway, current.health, probing));
    return response;
  } catch (error) {
    built = undefined;
    if (error instanceof PaypathError) return error.toResponse();
    throw error;
  }
}

/**
 * Cron Trigger (wrangler.toml, every minute): probes every path that is probed on a schedule, so
 * an idle Worker still finds a dead path, and with REDIS_URL every instance learns of it.
 * Reads the shared state first, so a passing probe here can close a path another instance opened.
 */
async function handleScheduled(env: WorkerEnv): Promise<void> {
  let current: Built;
  try {
    current = await gatewayFor(env);
  } catch (error) {
    built = undefined;
    throw error; // the Cron run is marked failed, with the reason in the Worker's logs
  }
  const { gateway, health } = current;
  await health?.sync();
  await gateway.probeRound();
  await health?.sync();
  await gateway.alarmDeliveries();
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: WorkerContext): Promise<Response> {
    return currentEvent.run(ctx, () => handleFetch(request, env, ctx));
  },

  scheduled(
    _controller: WorkerScheduledController,
    env: WorkerEnv,
    ctx: WorkerContext,
  ): Promise<void> {
    return currentEvent.run(ctx, () => handleScheduled(env));
  },
};
