import * as z from 'zod';
import { id, positiveMs } from './schema-fields.ts';

export const ROUTE_CLASSES = ['payment', 'capture', 'refund', 'billing', 'query', 'other'] as const;
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export const IdempotencySchema = z.strictObject({
  header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name')
    .default('Idempotency-Key')
    .describe(
      'Header carrying the idempotency key, inbound and upstream. Default: Idempotency-Key.',
    ),
  upstreamHonors: z
    .boolean()
    .default(false)
    .describe(
      'Whether the processor de-duplicates by this key. Only then is a request that was sent without an answer retried on another path. Default: false.',
    ),
  require: z
    .boolean()
    .default(false)
    .describe(
      'Reject requests without a key (400 idempotency_key_required) instead of generating one. Default: false.',
    ),
  lookup: z
    .string()
    .startsWith('/')
    .refine(
      (p) => p.includes('{key}'),
      'expected a path containing {key}, e.g. /v1/payments/by-key/{key}',
    )
    .optional()
    .describe(
      'Processor endpoint (GET) that looks a request up by its key; asked over another path when an attempt was sent without an answer. Default: none.',
    ),
  replayHeaders: z
    .array(z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name'))
    .default(['content-type', 'location'])
    .describe(
      'Upstream response headers stored with a completed answer and replayed with it. Default: [content-type, location].',
    ),
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
    pathPrefix: z
      .string()
      .startsWith('/')
      .optional()
      .describe(
        'Request path prefix, compared normalised as path is (a trailing slash counts here).',
      ),
  })
  .refine((m) => (m.path === undefined) !== (m.pathPrefix === undefined), {
    message: 'expected exactly one of path or pathPrefix',
  });

export const RouteSchema = z.strictObject({
  id: id.describe('Unique route id, e.g. payments.'),
  match: RouteMatchSchema,
  class: z
    .enum(ROUTE_CLASSES)
    .default('other')
    .describe(
      'Kind of traffic: payment | capture | refund | billing | query | other. Default: other.',
    ),
  paths: z.array(id).min(1).describe('Path ids this route may use, in priority order.'),
  attemptTimeoutMs: positiveMs(600_000)
    .optional()
    .describe(
      "Per-attempt timeout (connect to response headers), in ms. Default: derived from each path's observed latency.",
    ),
  deadlineMs: positiveMs(600_000)
    .default(8_000)
    .describe('Overall deadline for the request across all attempts, in ms. Default: 8000.'),
  hedgeConnectMs: positiveMs(60_000)
    .optional()
    .describe(
      'Start connecting on the next path when a connect has not completed within this, in ms. Default: off.',
    ),
  idempotency: IdempotencySchema.prefault({}).describe('Idempotency key handling.'),
  whenAllDown: z
    .enum(['reject', 'queue'])
    .default('reject')
    .describe('What to do when no path can carry the request. Default: reject.'),
  maxBodyBytes: z
    .int()
    .min(0)
    .max(64 * 1024 * 1024)
    .default(1_048_576)
    .describe('Largest accepted request body, in bytes. Default: 1048576.'),
  auth: z
    .enum(['merchant', 'none'])
    .optional()
    .describe(
      'Merchant authentication on this route: merchant | none. Default: merchant when the policy has a merchants section, else none.',
    ),
  contentTypes: z
    .array(
      z
        .string()
        .regex(
          /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+*-]+$/,
          'expected a media type such as application/json',
        ),
    )
    .min(1)
    .optional()
    .describe('Media types accepted for a request body (415 otherwise). Default: any.'),
});
