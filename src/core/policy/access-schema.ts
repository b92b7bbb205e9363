import * as z from 'zod';
import { allowlistEntry, filePath, id, positiveMs } from './schema-fields.ts';

export const RateLimitSchema = z.strictObject({
  ratePerSecond: z
    .number()
    .positive()
    .max(1_000_000)
    .describe('Tokens added per second (sustained rate).'),
  burst: z.int().min(1).max(1_000_000).describe('Bucket size: most requests accepted at once.'),
});

export const MerchantKeysSchema = z
  .strictObject({
    file: filePath
      .optional()
      .describe('JSON file {"merchant-id": "secret", ...}; must have mode 0600.'),
    env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name')
      .optional()
      .describe('Environment variable holding the same JSON object.'),
  })
  .refine((keys) => (keys.file === undefined) !== (keys.env === undefined), {
    message: 'expected exactly one of file or env',
  });

export const MerchantsSchema = z.strictObject({
  mode: z
    .enum(['hmac', 'api-key'])
    .default('hmac')
    .describe(
      'hmac: HMAC-SHA256 request signatures with timestamp and nonce; api-key: a static key per merchant. Default: hmac.',
    ),
  keys: MerchantKeysSchema.prefault({ env: 'PAYPATH_MERCHANT_KEYS' }).describe(
    'Where the per-merchant secrets come from (never the policy itself). Default: { env: PAYPATH_MERCHANT_KEYS }.',
  ),
  clockSkewSeconds: z
    .int()
    .min(1)
    .max(3_600)
    .default(300)
    .describe("Accepted distance between a signature's timestamp and now, in s. Default: 300."),
  rateLimit: RateLimitSchema.optional().describe(
    'Token bucket per merchant (429 beyond it). Default: none.',
  ),
  rateLimits: z
    .record(id, RateLimitSchema)
    .default({})
    .describe('Per-merchant buckets overriding rateLimit, by merchant id. Default: {}.'),
  failedAuth: RateLimitSchema.prefault({ ratePerSecond: 0.2, burst: 10 }).describe(
    'Token bucket of failed authentication attempts per client address (429 beyond it). Default: { ratePerSecond: 0.2, burst: 10 }.',
  ),
});

export const LimitsSchema = z.strictObject({
  maxHeaderBytes: z
    .int()
    .min(1_024)
    .max(65_536)
    .default(16_384)
    .describe('Largest total size of request headers, in bytes (431 beyond it). Default: 16384.'),
  maxJsonDepth: z
    .int()
    .min(1)
    .max(1_000)
    .default(64)
    .describe('Deepest nesting accepted in a JSON request body (400 beyond it). Default: 64.'),
  requestTimeoutMs: positiveMs(600_000)
    .min(100)
    .default(10_000)
    .describe(
      "A request (its line, headers and body) must arrive whole within this from its first byte, in ms, as HAProxy's timeout http-request; past it: 408 request_timeout and the connection is closed. Default: 10000.",
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
    .describe(
      'How long a request body waits for room in bodyBudgetBytes before 503 body_budget_exhausted, in ms. Default: 1000.',
    ),
});

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
    "Failed admin authentications written to the audit log, per client address (all addresses together: five times this). Beyond it they are only counted, in the next record's details.suppressed. Default: { ratePerSecond: 1, burst: 20 }.",
  ),
});
