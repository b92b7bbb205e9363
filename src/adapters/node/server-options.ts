import type { Policy } from '../../core/policy/schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { EgressProbe } from '../../core/egress/egress-probe.ts';
import type { AdminTokenEntry } from '../../http/middleware/admin-auth/index.ts';
import type { MerchantKeyring } from '../../http/middleware/merchant-auth/keyring.ts';

// What startNodeGateway (server.ts) takes, and the defaults it applies.

export interface NodeGatewayOptions {
  policy: Policy;
  policyHash: string;
  /** Default: 8787. 0 picks a free port. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Shared state (health, idempotency, queue) lives here when set. Default: none (in-memory, single instance). */
  redisUrl?: string;
  /**
   * How long one Redis command may take, in ms. Default: 250. A command past it is given up and
   * the gateway goes on with local state, so a slow or hung Redis never holds a payment up.
   */
  redisCommandTimeoutMs?: number;
  /** Bound on the idempotency records kept in memory (with redisUrl, those Redis could not take), in estimated bytes; past it the oldest completed ones go first. Default: 64 MiB. */
  idempotencyMemoryBytes?: number;
  logger: Logger;
  /** Names this instance in shared health state and alarms. Default: a random id. */
  instanceId?: string;
  /** Start active probes (when the policy enables them). Default: true. */
  probes?: boolean;
  /** Run requests through an in-memory copy of the app before listening, so the first payments are as fast as the rest. Default: true. */
  warmCodePaths?: boolean;
  /** The file `policy` came from: shown in /status, reloaded on change unless watchPolicy is false. */
  policyFile?: string;
  watchPolicy?: boolean;
  /** Bearer tokens for /admin. Default: none (every admin request is answered 401). */
  adminTokens?: readonly AdminTokenEntry[];
  /** JSON lines audit file. Default: in memory. With redisUrl, the audit goes to a Redis stream and this file is the fallback. */
  auditFile?: string;
  /**
   * Queue keys (32 bytes each): the first seals requests waiting in the Redis queue, the others
   * (previous keys) still open entries sealed before a rotation. Never stored in Redis. Default:
   * none, and then with redisUrl no request is queued (503 queue_key_missing). See docs/security.md.
   */
  queueKeys?: readonly Uint8Array[];
  /** Include Node process metrics in /metrics. Default: true. */
  processMetrics?: boolean;
  /** Built dashboard files served at /dashboard. Default: dist/dashboard of this package; false: no dashboard. */
  dashboardDir?: string | false;
  /** Merchant keys to use instead of loading them as the policy's merchants.keys says (tests, the demo). */
  merchantKeys?: MerchantKeyring;
  /** Serve HTTPS with this certificate and key (PEM files; the key must be mode 0600). Default: plain HTTP. */
  tls?: { certFile: string; keyFile: string };
  /**
   * How long an idle client connection stays open, in ms; announced as `Keep-Alive: timeout=N`.
   * Default: 120,000. Node's own 5 s is shorter than most clients' pools keep idle connections
   * (Go 90 s, load balancers 60 s), and a client that sends a payment just as the server closes the
   * connection sees it fail without knowing whether it arrived.
   */
  keepAliveTimeoutMs?: number;
  /**
   * On close, how long requests already received may take to finish, in ms, before their
   * connections are cut (new connections are refused at once). Default: 25,000, under the 30 s a
   * container orchestrator usually waits before it kills the process.
   */
  drainTimeoutMs?: number;
  /**
   * Asks the kernel how each path leaves (policy `routing`). Default on Linux: `ip` (iproute2)
   * with `ip monitor` for changes; elsewhere none (egress reported unknown). false: none.
   */
  egressProbe?: EgressProbe | false;
}

export const DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS = 120_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 25_000;
