import * as z from 'zod';
import { FORWARDED_FOR_MODES } from '../forwarded-for.ts';
import {
  AdminSchema,
  LimitsSchema,
  MerchantsSchema,
  type RateLimitSchema,
} from './access-schema.ts';
import {
  AdaptiveTimeoutSchema,
  BreakerSchema,
  DegradationSchema,
  ProbeSchema,
  RedundancySchema,
  RoutingSchema,
} from './health-schema.ts';
import { PathSchema, type GRADES } from './path-schema.ts';
import {
  DrillSchema,
  IdempotencyStoreSchema,
  QueueSchema,
  RetryBudgetSchema,
} from './recovery-schema.ts';
import { RouteSchema } from './route-schema.ts';

/**
 * The policy file's shape, assembled from its sections (path-, health-, route-, access- and
 * recovery-schema.ts). Each field's default is written once, in its section; `policies/schema.json`
 * (for editors) is generated from this schema by `npm run schema`.
 * Objects are strict: an unknown field is an error, because a typo in a failover policy
 * (`deadlinMs`) must not silently fall back to a default.
 */

export const PolicySchema = z.strictObject({
  version: z
    .literal(1, { error: 'expected version: 1' })
    .describe('Policy format version; must be 1.'),
  paths: z.array(PathSchema).min(1).describe('Ways to reach the processor (at least one).'),
  breaker: BreakerSchema.prefault({}).describe('Circuit breaker settings, shared by every path.'),
  probe: ProbeSchema.prefault({}).describe('Active health probe settings.'),
  routes: z
    .array(RouteSchema)
    .min(1)
    .describe(
      'Classes of inbound requests: a route whose exact path matches first, else the first matching prefix route in order.',
    ),
  redundancy: RedundancySchema.prefault({}).describe('Redundancy alarm settings.'),
  routing: RoutingSchema.prefault({}).describe(
    "How paths' egress is checked, and optional per-path routing tables kept by paypath.",
  ),
  retryBudget: RetryBudgetSchema.prefault({}).describe(
    'Limits re-sends that could add load to a struggling processor (after a 5xx/429, or a timeout while no other path answered); failing over an attempt that sent nothing, or a timeout on a path while others answered, is never limited.',
  ),
  adaptiveTimeout: AdaptiveTimeoutSchema.prefault({}).describe(
    "Per-attempt timeout of routes that set no attemptTimeoutMs and whose processor honours keys: follows each path's observed latency.",
  ),
  degradation: DegradationSchema.prefault({}).describe(
    'Marks a path that answers but loses or delays many exchanges (a lossy carrier) as degraded: payments try it only after the paths that are not.',
  ),
  admin: AdminSchema.prefault({}).describe('Admin API settings.'),
  drills: z
    .array(DrillSchema)
    .default([])
    .describe(
      'Scheduled drills that prove each backup path by isolating another one. Default: [].',
    ),
  idempotencyStore: IdempotencyStoreSchema.prefault({}).describe('Idempotency record retention.'),
  queue: QueueSchema.prefault({}).describe('Store-and-forward for routes with whenAllDown: queue.'),
  merchants: MerchantsSchema.optional().describe(
    'Merchant authentication and rate limits. Default: none (no merchant authentication).',
  ),
  limits: LimitsSchema.prefault({}).describe('Input limits applied to every request.'),
  forwardedFor: z
    .enum(FORWARDED_FOR_MODES)
    .default('append')
    .describe(
      "X-Forwarded-For sent upstream: append (the client's list, then the address the request came from), replace (only that address), drop (none). Default: append.",
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
