import * as z from 'zod';
import { FORWARDED_FOR_MODES } from '../forwarded-for.ts';

/**
 * The policy file's shape. Each field's default is written once, here; `policies/schema.json`
 * (for editors) is generated from this schema by `npm run schema`.
 * Objects are strict: an unknown field is an error, because a typo in a failover policy
 * (`deadlinMs`) must not silently fall back to a default.
 */

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected an id of lowercase letters, digits and "-" (at most 63 characters)');

const positiveMs = (max: number) => z.int().min(1).max(max);

const upstreamUrl = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
    } catch {
      return false;
    }
  }, 'expected an http(s) base URL without query or fragment, e.g. https://pay.processor.example');

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();
/** A DNS resolver: `192.0.2.53`, `2001:db8::53`, or with a port, `192.0.2.53:5353`, `[2001:db8::53]:5353`. */
const resolverAddress = z.string().refine((value) => {
  const withPort = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (withPort) {
    const port = Number(withPort[3]);
    if (port < 1 || port > 65_535) return false;
    return withPort[1] !== undefined ? ipv6.safeParse(withPort[1]).success : ipv4.safeParse(withPort[2]).success;
  }
  return ipv4.safeParse(value).success || ipv6.safeParse(value).success;
}, 'expected the IPv4 or IPv6 address of a DNS resolver, optionally with a port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:5353)');

export const GRADES = ['mirror', 'hot', 'warm', 'cold'] as const;
export const ROUTE_CLASSES = ['payment', 'capture', 'refund', 'billing', 'query', 'other'] as const;
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export const BudgetSchema = z
  .strictObject({
    requestsPerMonth: z.int().min(1).optional().describe('Requests this path may carry per calendar month (UTC). Default: no limit.'),
    bytesPerMonth: z.int().min(1).optional().describe('Request and response bytes this path may carry per calendar month (UTC). Default: no limit.'),
    overBudgetClasses: z
      .array(z.enum(ROUTE_CLASSES))
      .default(['payment', 'capture', 'refund'])
      .describe('Route classes the path still serves once over budget. Default: [payment, capture, refund].'),
    webhooks: z.array(upstreamUrl).default([]).describe('URLs notified (POST JSON) when usage reaches 80 % and 100 % of a limit. Default: [].'),
  })
  .refine((b) => b.requestsPerMonth !== undefined || b.bytesPerMonth !== undefined, { message: 'expected requestsPerMonth or bytesPerMonth' });
const filePath = z.string().min(1, 'expected a file path');

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

export const PathTlsSchema = z
  .strictObject({
    ca: filePath.optional().describe('PEM file of the CA(s) trusted for this upstream. Default: the system\'s trusted CAs.'),
    cert: filePath.optional().describe('PEM client certificate for mTLS (needs key). Default: none.'),
    key: filePath
      .optional()
      .describe('PEM private key of the client certificate; the file must have mode 0600. Default: none.'),
    servername: z.string().min(1).optional().describe('TLS server name (SNI) to send and verify. Default: the upstream\'s host name.'),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('Oldest TLS version accepted: TLSv1.2 | TLSv1.3. Default: TLSv1.2.'),
  })
  .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), { message: 'expected both cert and key (mTLS), or neither' });

export const PathSchema = z.strictObject({
  id: id.describe('Unique path id, e.g. kt-fiber.'),
  upstream: upstreamUrl.describe('Base URL of the processor as reached over this path.'),
  bind: z
    .union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' })
    .optional()
    .describe(
      'Local source address of this carrier\'s interface (exclusive with interface). The kernel picks the outgoing interface from its routing rules, not from this address: give each carrier its own routing table (docs/store-box.md, `paypath doctor`). Default: none (the OS chooses).',
    ),
  interface: z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'expected a network interface name such as wwan0')
    .optional()
    .describe(
      'This carrier\'s network interface (exclusive with bind); its current address is the source address and is followed when it changes (an LTE link\'s changes on every reconnect). While it has none, attempts on the path are not sent. Default: none.',
    ),
  gateway: z
    .union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' })
    .optional()
    .describe(
      'Next hop of this carrier (its router), for the per-carrier routing table that `paypath doctor` prints and `routing.manage` keeps. Default: found in the box\'s routes for the interface; none on a point-to-point link.',
    ),
  dns: z
    .array(resolverAddress)
    .min(1)
    .max(8)
    .optional()
    .describe(
      "This carrier's DNS resolvers, asked (from the path's bind address, or its interface's current address) for the upstream's host name. Default: the system's resolvers (/etc/resolv.conf), asked from that address. Answers are cached for their TTL (at least 1 s, at most 300 s), refreshed ahead of expiry, and the last good one is kept for up to 24 h while the resolvers fail.",
    ),
  grade: z.enum(GRADES).default('hot').describe('How ready the path is: mirror | hot | warm | cold. Default: hot.'),
  cost: z.number().min(0).default(0).describe('Relative cost; a metered LTE link costs more. Default: 0.'),
  shareRisk: z
    .array(id)
    .default([])
    .describe('Risk tags (same exchange building, same conduit); paths sharing one count once for redundancy. Default: [].'),
  connectTimeoutMs: positiveMs(60_000)
    .default(1_000)
    .describe('TCP (and TLS) connect timeout on this path, in ms. Default: 1000.'),
  connectAttemptDelayMs: z
    .int()
    .min(10)
    .max(2_000)
    .default(250)
    .describe(
      "Happy Eyeballs (RFC 8305's connection attempt delay) on an `interface` path whose interface has both an IPv4 and an IPv6 address and whose upstream is a host name: a new connection tries IPv6 first and, after this delay (at once if IPv6 fails), IPv4 beside it, each from the interface's address of that family; the first connected carries the request. When IPv4 wins so, it goes first for the next 10 minutes' connections. In ms, 10 to 2000. Default: 250.",
    ),
  budget: BudgetSchema.optional().describe('Monthly usage budget of a metered path (e.g. LTE). Default: none (unmetered).'),
  tls: PathTlsSchema.optional().describe('TLS settings for an https upstream on this path. Default: system CAs, TLS 1.2 or newer, no client certificate.'),
});

export const BreakerSchema = z.strictObject({
  windowMs: positiveMs(600_000).default(10_000).describe('Rolling window over which failures are counted, in ms. Default: 10000.'),
  errorThresholdPercentage: z
    .number()
    .min(1)
    .max(100)
    .default(50)
    .describe('Failure share in the window that opens the breaker, in %. Default: 50.'),
  volumeThreshold: z.int().min(1).default(5).describe('Attempts in the window before the breaker may open. Default: 5.'),
  consecutiveFailures: z
    .int()
    .min(1)
    .max(10_000)
    .default(5)
    .describe(
      'Transport failures in a row (timeouts, resets, refused connections; not the processor\'s 5xx answers) that open the breaker whatever the window\'s failure share, so a cut carrier opens within a few payments at any request rate. Default: 5.',
    ),
  resetTimeoutMs: positiveMs(600_000).default(5_000).describe('Time an open breaker waits before a half-open trial, in ms. Default: 5000.'),
  quorum: z
    .int()
    .min(1)
    .max(1_000)
    .optional()
    .describe(
      'With a shared health store (Redis): instances that must report a path failing (within windowMs) before it opens cluster-wide; each instance still opens it locally at once. Default: 1 (any instance\'s trip is applied everywhere).',
    ),
});

export const ProbeSchema = z.strictObject({
  path: z.string().startsWith('/').default('/health').describe('Upstream path probed on every path. Default: /health.'),
  intervalMs: positiveMs(3_600_000).default(1_000).describe('Probe interval for mirror and hot paths, in ms. Default: 1000.'),
  timeoutMs: positiveMs(60_000).default(500).describe('A probe slower than this fails, in ms. Default: 500.'),
  enabled: z.boolean().default(true).describe('Whether paths are probed actively. Default: true.'),
  warmFactor: z
    .int()
    .min(1)
    .max(1_000)
    .default(5)
    .describe('Warm paths are probed this many times less often than mirror and hot ones; cold paths only on demand. Default: 5.'),
});

export const DegradationSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Whether a lossy path is marked degraded and tried after its siblings. Default: true.'),
  windowMs: positiveMs(600_000).default(3_000).describe('Window over which a path\'s exchanges (payments and probes) are counted, in ms. Default: 3000.'),
  minSamples: z.int().min(1).max(1_000).default(20).describe('Exchanges in the window before a path may be marked degraded. Default: 20.'),
  badPercent: z
    .number()
    .min(1)
    .max(100)
    .default(20)
    .describe('Share of bad exchanges (failed, or slower than slowMs) in the window that marks the path degraded, in %. Default: 20.'),
  slowMs: positiveMs(600_000)
    .default(150)
    .describe(
      "An answer slower than this (and than 4 times the path's 10th-percentile latency) is bad: a lost TCP segment costs at least 200 ms to resend. Default: 150.",
    ),
  recoverSamples: z
    .int()
    .min(1)
    .max(1_000)
    .default(3)
    .describe('A degraded path recovers once the window holds at least this many exchanges and none was bad (with payments elsewhere: probes). Default: 3.'),
});

export const AdaptiveTimeoutSchema = z.strictObject({
  percentile: z.number().gt(0).max(1).default(0.99).describe('Latency percentile of the path the timeout follows (0..1]. Default: 0.99.'),
  factor: z.number().min(1).max(100).default(4).describe('The timeout is the percentile times this. Default: 4.'),
  floorMs: positiveMs(600_000).default(30).describe('Shortest adaptive attempt timeout, in ms. Default: 30.'),
  ceilingMs: positiveMs(600_000).default(2_000).describe('Longest adaptive attempt timeout (and the timeout before enough samples exist), in ms. Default: 2000.'),
  minSamples: z.int().min(1).max(512).default(50).describe('Latency samples a path needs before its timeout adapts. Default: 50.'),
  silentPath: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Whether attempts are given up early on a path that fell silent. Default: true.'),
      afterMs: positiveMs(600_000)
        .default(20)
        .describe("Silence since the attempt was sent after which it is given up, in ms; at least the path's median latency times the factor. Default: 20."),
      waiting: z.int().min(1).max(1_000).default(2).describe('Attempts sent later over the same path that must be waiting too. Default: 2.'),
    })
    .prefault({})
    .describe(
      'Gives up an attempt before its adaptive timeout when its path has answered nothing at all since it was sent, while later attempts wait too: a cut carrier, not one slow answer. Only where the timeout adapts.',
    ),
});

export const IdempotencySchema = z.strictObject({
  header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name')
    .default('Idempotency-Key')
    .describe('Header carrying the idempotency key, inbound and upstream. Default: Idempotency-Key.'),
  upstreamHonors: z
    .boolean()
    .default(false)
    .describe(
      'Whether the processor de-duplicates by this key. Only then is a request that was sent without an answer retried on another path. Default: false.',
    ),
  require: z
    .boolean()
    .default(false)
    .describe('Reject requests without a key (400 idempotency_key_required) instead of generating one. Default: false.'),
  lookup: z
    .string()
    .startsWith('/')
    .refine((p) => p.includes('{key}'), 'expected a path containing {key}, e.g. /v1/payments/by-key/{key}')
    .optional()
    .describe(
      'Processor endpoint (GET) that looks a request up by its key; asked over another path when an attempt was sent without an answer. Default: none.',
    ),
  replayHeaders: z
    .array(z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name'))
    .default(['content-type', 'location'])
    .describe('Upstream response headers stored with a completed answer and replayed with it. Default: [content-type, location].'),
});

export const RouteMatchSchema = z
  .strictObject({
    method: z.enum(HTTP_METHODS).describe('HTTP method.'),
    path: z
      .string()
      .startsWith('/')
      .optional()
      .describe(
        'Exact request path. Compared normalised (a trailing slash, repeated slashes, ;parameters, letter case and escaped unreserved characters do not count), and before any prefix route.',
      ),
    pathPrefix: z.string().startsWith('/').optional().describe('Request path prefix, compared normalised as path is (a trailing slash counts here).'),
  })
  .refine((m) => (m.path === undefined) !== (m.pathPrefix === undefined), {
    message: 'expected exactly one of path or pathPrefix',
  });

export const RouteSchema = z.strictObject({
  id: id.describe('Unique route id, e.g. payments.'),
  match: RouteMatchSchema,
  class: z.enum(ROUTE_CLASSES).default('other').describe('Kind of traffic: payment | capture | refund | billing | query | other. Default: other.'),
  paths: z.array(id).min(1).describe('Path ids this route may use, in priority order.'),
  attemptTimeoutMs: positiveMs(600_000)
    .optional()
    .describe('Per-attempt timeout (connect to response headers), in ms. Default: derived from each path\'s observed latency.'),
  deadlineMs: positiveMs(600_000).default(8_000).describe('Overall deadline for the request across all attempts, in ms. Default: 8000.'),
  hedgeConnectMs: positiveMs(60_000)
    .optional()
    .describe('Start connecting on the next path when a connect has not completed within this, in ms. Default: off.'),
  idempotency: IdempotencySchema.prefault({}).describe('Idempotency key handling.'),
  whenAllDown: z.enum(['reject', 'queue']).default('reject').describe('What to do when no path can carry the request. Default: reject.'),
  maxBodyBytes: z.int().min(0).max(64 * 1024 * 1024).default(1_048_576).describe('Largest accepted request body, in bytes. Default: 1048576.'),
  auth: z
    .enum(['merchant', 'none'])
    .optional()
    .describe('Merchant authentication on this route: merchant | none. Default: merchant when the policy has a merchants section, else none.'),
  contentTypes: z
    .array(z.string().regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+*-]+$/, 'expected a media type such as application/json'))
    .min(1)
    .optional()
    .describe('Media types accepted for a request body (415 otherwise). Default: any.'),
});

export const RateLimitSchema = z.strictObject({
  ratePerSecond: z.number().positive().max(1_000_000).describe('Tokens added per second (sustained rate).'),
  burst: z.int().min(1).max(1_000_000).describe('Bucket size: most requests accepted at once.'),
});

export const MerchantKeysSchema = z
  .strictObject({
    file: filePath.optional().describe('JSON file {"merchant-id": "secret", ...}; must have mode 0600.'),
    env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name')
      .optional()
      .describe('Environment variable holding the same JSON object.'),
  })
  .refine((keys) => (keys.file === undefined) !== (keys.env === undefined), { message: 'expected exactly one of file or env' });

export const MerchantsSchema = z.strictObject({
  mode: z
    .enum(['hmac', 'api-key'])
    .default('hmac')
    .describe('hmac: HMAC-SHA256 request signatures with timestamp and nonce; api-key: a static key per merchant. Default: hmac.'),
  keys: MerchantKeysSchema.prefault({ env: 'PAYPATH_MERCHANT_KEYS' }).describe('Where the per-merchant secrets come from (never the policy itself). Default: { env: PAYPATH_MERCHANT_KEYS }.'),
  clockSkewSeconds: z.int().min(1).max(3_600).default(300).describe('Accepted distance between a signature\'s timestamp and now, in s. Default: 300.'),
  rateLimit: RateLimitSchema.optional().describe('Token bucket per merchant (429 beyond it). Default: none.'),
  rateLimits: z
    .record(id, RateLimitSchema)
    .default({})
    .describe('Per-merchant buckets overriding rateLimit, by merchant id. Default: {}.'),
  failedAuth: RateLimitSchema.prefault({ ratePerSecond: 0.2, burst: 10 }).describe(
    'Token bucket of failed authentication attempts per client address (429 beyond it). Default: { ratePerSecond: 0.2, burst: 10 }.',
  ),
});

export const LimitsSchema = z.strictObject({
  maxHeaderBytes: z.int().min(1_024).max(65_536).default(16_384).describe('Largest total size of request headers, in bytes (431 beyond it). Default: 16384.'),
  maxJsonDepth: z.int().min(1).max(1_000).default(64).describe('Deepest nesting accepted in a JSON request body (400 beyond it). Default: 64.'),
  requestTimeoutMs: positiveMs(600_000)
    .min(100)
    .default(10_000)
    .describe(
      'A request (its line, headers and body) must arrive whole within this from its first byte, in ms, as HAProxy\'s timeout http-request; past it: 408 request_timeout and the connection is closed. Default: 10000.',
    ),
  bodyBudgetBytes: z
    .int()
    .min(65_536)
    .max(4 * 1024 * 1024 * 1024)
    .default(64 * 1024 * 1024)
    .describe(
      'Most request-body bytes held in memory at once by all requests of the process together. A body that does not fit is not read on (its sender waits) for up to bodyBudgetWaitMs, then 503 body_budget_exhausted. Default: 67108864 (64 MiB).',
    ),
  bodyBudgetWaitMs: z
    .int()
    .min(0)
    .max(60_000)
    .default(1_000)
    .describe('How long a request body waits for room in bodyBudgetBytes before 503 body_budget_exhausted, in ms. Default: 1000.'),
});

export const RetryBudgetSchema = z.strictObject({
  percent: z.number().min(0).max(100).default(20).describe('Re-sends of already-sent requests in progress, as a share of requests in progress, in %. Default: 20.'),
  minConcurrent: z.int().min(0).max(10_000).default(10).describe('Re-sends always allowed at once, whatever the share. Default: 10.'),
});

export const QueueSchema = z.strictObject({
  maxAttempts: z.int().min(1).max(1000).default(10).describe('Forwarding attempts before a queued request is dead-lettered. Default: 10.'),
  retryIntervalMs: positiveMs(3_600_000).default(1_000).describe('How often the forwarder tries the queue head again, in ms. Default: 1000.'),
  maxDepth: z.int().min(1).default(10_000).describe('Most requests queued at once; beyond it, 503 queue_full. Default: 10000.'),
  retentionMs: positiveMs(30 * 86_400_000)
    .default(86_400_000)
    .describe('How long the outcome of a forwarded or dead-lettered request stays readable at GET /v1/queue/{id}, in ms. Default: 86400000 (24 h).'),
  payments: z
    .strictObject({
      floorLimit: z.int().min(0).default(0).describe('Largest single payment amount (minor units) that may be queued. Default: 0 (payments are never queued).'),
      merchantExposureCap: z
        .int()
        .min(0)
        .default(0)
        .describe('Largest total amount (minor units) one merchant may have queued at once. Default: 0.'),
      maxAgeMs: positiveMs(7 * 86_400_000)
        .default(3_600_000)
        .describe('A queued payment older than this is dead-lettered (reason expired) instead of forwarded, in ms. Default: 3600000 (1 h).'),
      amountField: z.string().min(1).default('amount').describe('Top-level JSON body field holding the amount in minor units. Default: amount.'),
      merchantHeader: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name')
        .default('X-Merchant-Id')
        .describe('Request header naming the merchant whose exposure a queued payment counts against. Default: X-Merchant-Id.'),
    })
    .prefault({})
    .describe('Offline limits for payment routes (as card terminals apply them).'),
});

export const IdempotencyStoreSchema = z.strictObject({
  ttlMs: z
    .int()
    .min(86_400_000, 'expected at least 86400000 (24 h)')
    .max(30 * 86_400_000)
    .default(86_400_000)
    .describe('How long a completed answer is kept for replay, in ms (at least 24 h). Default: 86400000.'),
  maxAnswerBytes: z
    .int()
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(1_048_576)
    .describe(
      'Largest answer body kept for replay, in bytes. A larger final answer is streamed to the client (x-paypath-answer-stored: false) and only its outcome is kept: a retry with its key gets 409 idempotency_answer_not_stored, never a second upstream call. Default: 1048576.',
    ),
  lockGraceMs: positiveMs(600_000)
    .default(5_000)
    .describe('An in-flight claim expires this long after its route\'s deadline, so a crashed instance cannot hold a key forever, in ms. Default: 5000.'),
});

export const RoutingSchema = z.strictObject({
  egressCheckMs: z
    .int()
    .min(0)
    .max(3_600_000)
    .default(5_000)
    .describe(
      'How often the kernel is asked how each path\'s packets leave (interface and next hop), in ms; also at start, on every policy change and when addresses, routes or rules change. Paths that leave the same way count once for redundancy. 0: only at start and on changes. Default: 5000.',
    ),
  manage: z
    .boolean()
    .default(false)
    .describe(
      'Let `paypath serve` keep a routing table per path (`ip rule from ADDRESS table N`, a default route via the path\'s gateway in it), following interface addresses, and remove what it added on exit. Needs CAP_NET_ADMIN and the ip command. Default: false.',
    ),
  tableBase: z
    .int()
    .min(1)
    .max(250_000_000)
    .default(100)
    .describe('Routing table of the first path is tableBase + 1, of the second tableBase + 2, and so on (doctor\'s commands and routing.manage). Default: 100.'),
  rulePriority: z
    .int()
    .min(1)
    .max(32_000)
    .default(1_000)
    .describe('Priority of the first path\'s `ip rule` (the next paths\' follow it); below the main table\'s 32766. Default: 1000.'),
});

export const RedundancySchema = z.strictObject({
  alertBelow: z.int().min(1).default(3).describe('Alert when the redundancy level counts fewer independent paths than this (healthy ones, proven within provenWithinMs; N+1 counts two). Default: 3.'),
  webhooks: z.array(upstreamUrl).default([]).describe('URLs notified on every redundancy drop and recovery. Default: [].'),
  provenWithinMs: z
    .int()
    .min(60_000)
    .max(30 * 86_400_000)
    .default(86_400_000)
    .describe(
      'A path counts towards the redundancy level only if it carried a payment (real traffic or a passing drill) within this, in ms; a backup never exercised may not work. Default: 86400000 (24 h).',
    ),
  downAfterMs: positiveMs(600_000)
    .default(3_000)
    .describe(
      'The detection window: once every path has been asked something (a payment or a probe) and answered nothing at all for this long, every path counts as down (level down, /readyz 503, payments refused with 503 no_path_available until a probe gets an answer). Needs active probes; keep it longer than probe.timeoutMs (checked) and than the slowest normal answer of the processor. In ms. Default: 3000.',
    ),
});

/** `90s`, `30m`, `6h`, `1d` (or a number of ms); parsed by parseDuration. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;
const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration written as `90s`, `30m`, `6h`, `1d` or a number of ms. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_PATTERN.exec(value);
  if (!match) return Number.NaN;
  return Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS];
}

const duration = (minMs: number) =>
  z
    .union([z.int(), z.string().regex(DURATION_PATTERN, 'expected a duration such as 90s, 30m, 6h or 1d')])
    .refine((value) => parseDuration(value) >= minMs, `expected at least ${minMs} ms`);

/** An origin (`https://pay.example`) or a URL prefix ending in `/` (`https://pay.example/v2/`). */
const allowlistEntry = z.string().refine((value) => {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') return false;
    return value === url.origin || (value.endsWith('/') && value === url.href);
  } catch {
    return false;
  }
}, 'expected an origin (https://pay.example) or a URL prefix ending in "/" (https://pay.example/v2/)');

export const AdminSchema = z.strictObject({
  upstreamAllowlist: z
    .array(allowlistEntry)
    .default([])
    .describe(
      'Where path upstreams may point: origins (https://pay.example, any base path) or URL prefixes ending in "/". A policy edited through the admin API must keep this list and every upstream must match it; only the policy file can change it. Default: [] (the origins of the policy file\'s own paths).',
    ),
  rateLimit: RateLimitSchema.prefault({ ratePerSecond: 10, burst: 30 }).describe(
    'Token bucket per admin token: requests beyond it are answered 429 admin_rate_limited with Retry-After. Default: { ratePerSecond: 10, burst: 30 }.',
  ),
  failedAuthAudit: RateLimitSchema.prefault({ ratePerSecond: 1, burst: 20 }).describe(
    'Failed admin authentications written to the audit log, per client address (all addresses together: five times this). Beyond it they are only counted, in the next record\'s details.suppressed. Default: { ratePerSecond: 1, burst: 20 }.',
  ),
});

export const DrillSchema = z
  .strictObject({
    path: id.optional().describe('Path to isolate during the drill (or paths).'),
    paths: z
      .array(id)
      .min(1)
      .optional()
      .describe('Paths to isolate together, e.g. both fibers so that the spare of last resort carries the traffic (or path).'),
    every: duration(60_000).describe('How often to run the drill: 30m, 6h, 1d, or ms; at least one minute.'),
    durationMs: positiveMs(3_600_000).min(100).describe('How long the paths stay isolated, in ms (100 to 3600000).'),
  })
  .refine((drill) => (drill.path === undefined) !== (drill.paths === undefined), { message: 'expected exactly one of path or paths' });

export const PolicySchema = z.strictObject({
  version: z.literal(1, { error: 'expected version: 1' }).describe('Policy format version; must be 1.'),
  paths: z.array(PathSchema).min(1).describe('Ways to reach the processor (at least one).'),
  breaker: BreakerSchema.prefault({}).describe('Circuit breaker settings, shared by every path.'),
  probe: ProbeSchema.prefault({}).describe('Active health probe settings.'),
  routes: z.array(RouteSchema).min(1).describe('Classes of inbound requests: a route whose exact path matches first, else the first matching prefix route in order.'),
  redundancy: RedundancySchema.prefault({}).describe('Redundancy alarm settings.'),
  routing: RoutingSchema.prefault({}).describe('How paths\' egress is checked, and optional per-path routing tables kept by paypath.'),
  retryBudget: RetryBudgetSchema.prefault({}).describe(
    'Limits re-sends that could add load to a struggling processor (after a 5xx/429, or a timeout while no other path answered); failing over an attempt that sent nothing, or a timeout on a path while others answered, is never limited.',
  ),
  adaptiveTimeout: AdaptiveTimeoutSchema.prefault({}).describe(
    'Per-attempt timeout of routes that set no attemptTimeoutMs and whose processor honours keys: follows each path\'s observed latency.',
  ),
  degradation: DegradationSchema.prefault({}).describe(
    'Marks a path that answers but loses or delays many exchanges (a lossy carrier) as degraded: payments try it only after the paths that are not.',
  ),
  admin: AdminSchema.prefault({}).describe('Admin API settings.'),
  drills: z.array(DrillSchema).default([]).describe('Scheduled drills that prove each backup path by isolating another one. Default: [].'),
  idempotencyStore: IdempotencyStoreSchema.prefault({}).describe('Idempotency record retention.'),
  queue: QueueSchema.prefault({}).describe('Store-and-forward for routes with whenAllDown: queue.'),
  merchants: MerchantsSchema.optional().describe('Merchant authentication and rate limits. Default: none (no merchant authentication).'),
  limits: LimitsSchema.prefault({}).describe('Input limits applied to every request.'),
  forwardedFor: z
    .enum(FORWARDED_FOR_MODES)
    .default('append')
    .describe(
      'X-Forwarded-For sent upstream: append (the client\'s list, then the address the request came from), replace (only that address), drop (none). Default: append.',
    ),
});

export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type PathConfig = Policy['paths'][number];
export type RouteConfig = Policy['routes'][number];
export type BreakerConfig = Policy['breaker'];
export type AdaptiveTimeoutConfig = Policy['adaptiveTimeout'];
export type DegradationConfig = Policy['degradation'];
export type DrillConfig = Policy['drills'][number];
export type RoutingConfig = Policy['routing'];
export type QueueConfig = Policy['queue'];
export type Grade = (typeof GRADES)[number];
export type MerchantsConfig = NonNullable<Policy['merchants']>;
export type RateLimitConfig = z.output<typeof RateLimitSchema>;
export type PathTlsConfig = NonNullable<PathConfig['tls']>;
