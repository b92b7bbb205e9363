import * as z from 'zod';
import { duration, id, positiveMs } from './schema-fields.ts';

export const RetryBudgetSchema = z.strictObject({
  percent: z
    .number()
    .min(0)
    .max(100)
    .default(20)
    .describe(
      'Re-sends of already-sent requests in progress, as a share of requests in progress, in %. Default: 20.',
    ),
  minConcurrent: z
    .int()
    .min(0)
    .max(10_000)
    .default(10)
    .describe('Re-sends always allowed at once, whatever the share. Default: 10.'),
});

export const QueueSchema = z.strictObject({
  maxAttempts: z
    .int()
    .min(1)
    .max(1000)
    .default(10)
    .describe('Forwarding attempts before a queued request is dead-lettered. Default: 10.'),
  retryIntervalMs: positiveMs(3_600_000)
    .default(1_000)
    .describe('How often the forwarder tries the queue head again, in ms. Default: 1000.'),
  maxDepth: z
    .int()
    .min(1)
    .default(10_000)
    .describe('Most requests queued at once; beyond it, 503 queue_full. Default: 10000.'),
  retentionMs: positiveMs(30 * 86_400_000)
    .default(86_400_000)
    .describe(
      'How long the outcome of a forwarded or dead-lettered request stays readable at GET /v1/queue/{id}, in ms. Default: 86400000 (24 h).',
    ),
  payments: z
    .strictObject({
      floorLimit: z
        .int()
        .min(0)
        .default(0)
        .describe(
          'Largest single payment amount (minor units) that may be queued. Default: 0 (payments are never queued).',
        ),
      merchantExposureCap: z
        .int()
        .min(0)
        .default(0)
        .describe(
          'Largest total amount (minor units) one merchant may have queued at once. Default: 0.',
        ),
      maxAgeMs: positiveMs(7 * 86_400_000)
        .default(3_600_000)
        .describe(
          'A queued payment older than this is dead-lettered (reason expired) instead of forwarded, in ms. Default: 3600000 (1 h).',
        ),
      amountField: z
        .string()
        .min(1)
        .default('amount')
        .describe('Top-level JSON body field holding the amount in minor units. Default: amount.'),
      merchantHeader: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name')
        .default('X-Merchant-Id')
        .describe(
          'Request header naming the merchant whose exposure a queued payment counts against. Default: X-Merchant-Id.',
        ),
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
    .describe(
      'How long a completed answer is kept for replay, in ms (at least 24 h). Default: 86400000.',
    ),
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
    .describe(
      "An in-flight claim expires this long after its route's deadline, so a crashed instance cannot hold a key forever, in ms. Default: 5000.",
    ),
});

export const DrillSchema = z
  .strictObject({
    path: id.optional().describe('Path to isolate during the drill (or paths).'),
    paths: z
      .array(id)
      .min(1)
      .optional()
      .describe(
        'Paths to isolate together, e.g. both fibers so that the spare of last resort carries the traffic (or path).',
      ),
    every: duration(60_000).describe(
      'How often to run the drill: 30m, 6h, 1d, or ms; at least one minute.',
    ),
    durationMs: positiveMs(3_600_000)
      .min(100)
      .describe('How long the paths stay isolated, in ms (100 to 3600000).'),
  })
  .refine((drill) => (drill.path === undefined) !== (drill.paths === undefined), {
    message: 'expected exactly one of path or paths',
  });
