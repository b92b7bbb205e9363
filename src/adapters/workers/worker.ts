// Cloudflare Workers entry: the same Hono app as on Node, built from Workers-safe parts.
// Nothing is created at module scope (workerd forbids timers there); the gateway is built on the
// first request and kept for the isolate's life. Breakers keep no timers (TimestampBreaker).
import { TimestampBreaker } from '../../core/breaker/timestamp-breaker.ts';
import { PaypathError } from '../../core/errors.ts';
import { Gateway } from '../../core/gateway.ts';
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

export interface WorkerEnv {
  /** The policy document (YAML or JSON), from a var or a secret. */
  PAYPATH_POLICY?: string;
  /** Shared health with every other instance (Workers and Node) on this Redis. Default: none. */
  REDIS_URL?: string;
}

interface Built {
  source: string;
  app: ReturnType<typeof createApp>;
  health: WorkerRedisHealthStore | undefined;
}

let built: Promise<Built> | undefined;

/**
 * Merchant keys on Workers come from a Worker secret named by the policy's merchants.keys.env
 * (there are no files). Nonces and buckets live in the isolate's memory: a replay that lands on
 * another isolate is caught by the processor's idempotency key, not here (docs/security.md).
 */
function workerSecurity(policy: Policy, env: WorkerEnv): SecurityDeps {
  const merchants = policy.merchants;
  if (merchants === undefined) return {};
  const variable = merchants.keys.env;
  if (variable === undefined) throw new PaypathError('internal_error', 500, 'merchants.keys.file is not available on Workers; use keys: { env: NAME } with a Worker secret');
  const text = (env as Record<string, unknown>)[variable];
  if (typeof text !== 'string') throw new PaypathError('internal_error', 500, `Worker secret ${variable} (merchant keys) is not set`);
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
    throw new PaypathError('internal_error', 500, `PAYPATH_POLICY is invalid: ${parsed.issues.map((i) => formatIssue(i)).join('; ')}`);
  }
  const redisUrl = env.REDIS_URL;
  const health = redisUrl ? new WorkerRedisHealthStore({ connect: () => connectRedis(redisUrl) }) : undefined;
  const gateway = new Gateway({
    policy: parsed.policy,
    policyHash: await policyHash(parsed.policy),
    transportFactory: (path) => createFetchTransport(path),
    breakerFactory: (config) => new TimestampBreaker(config),
    instanceId: `worker-${crypto.randomUUID().slice(0, 8)}`,
    ...(health ? { healthStore: health } : {}),
  });
  return { source, app: createApp({ gateway: () => gateway, security: workerSecurity(parsed.policy, env) }), health };
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: WorkerContext): Promise<Response> {
    const source = env.PAYPATH_POLICY;
    if (!source) return new PaypathError('internal_error', 500, 'PAYPATH_POLICY is not set').toResponse();
    try {
      if (!built || (await built).source !== source) built = build(source, env);
      const { app, health } = await built;
      const response = await app.fetch(request, env, ctx);
      // After the answer: share this request's transitions and learn others' (never awaited by it).
      if (health) ctx.waitUntil(health.sync());
      return response;
    } catch (error) {
      built = undefined;
      if (error instanceof PaypathError) return error.toResponse();
      throw error;
    }
  },
};
