import * as z from 'zod';
import { positiveMs, upstreamUrl } from './schema-fields.ts';

export const BreakerSchema = z.strictObject({
  windowMs: positiveMs(600_000)
    .default(10_000)
    .describe('Rolling window over which failures are counted, in ms. Default: 10000.'),
  errorThresholdPercentage: z
    .number()
    .min(1)
    .max(100)
    .default(50)
    .describe('Failure share in the window that opens the breaker, in %. Default: 50.'),
  volumeThreshold: z
    .int()
    .min(1)
    .default(5)
    .describe('Attempts in the window before the breaker may open. Default: 5.'),
  consecutiveFailures: z
    .int()
    .min(1)
    .max(10_000)
    .default(5)
    .describe(
      "Transport failures in a row (timeouts, resets, refused connections; not the processor's 5xx answers) that open the breaker whatever the window's failure share, so a cut carrier opens within a few payments at any request rate. Default: 5.",
    ),
  resetTimeoutMs: positiveMs(600_000)
    .default(5_000)
    .describe('Time an open breaker waits before a half-open trial, in ms. Default: 5000.'),
  quorum: z
    .int()
    .min(1)
    .max(1_000)
    .optional()
    .describe(
      "With a shared health store (Redis): instances that must report a path failing (within windowMs) before it opens cluster-wide; each instance still opens it locally at once. Default: 1 (any instance's trip is applied everywhere).",
    ),
});

export const ProbeSchema = z.strictObject({
  path: z
    .string()
    .startsWith('/')
    .default('/health')
    .describe('Upstream path probed on every path. Default: /health.'),
  intervalMs: positiveMs(3_600_000)
    .default(1_000)
    .describe('Probe interval for mirror and hot paths, in ms. Default: 1000.'),
  timeoutMs: positiveMs(60_000)
    .default(500)
    .describe('A probe slower than this fails, in ms. Default: 500.'),
  enabled: z.boolean().default(true).describe('Whether paths are probed actively. Default: true.'),
  warmFactor: z
    .int()
    .min(1)
    .max(1_000)
    .default(5)
    .describe(
      'Warm paths are probed this many times less often than mirror and hot ones; cold paths only on demand. Default: 5.',
    ),
});

export const DegradationSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      'Whether a lossy path is marked degraded and tried after its siblings. Default: true.',
    ),
  windowMs: positiveMs(600_000)
    .default(3_000)
    .describe(
      "Window over which a path's exchanges (payments and probes) are counted, in ms. Default: 3000.",
    ),
  minSamples: z
    .int()
    .min(1)
    .max(1_000)
    .default(20)
    .describe('Exchanges in the window before a path may be marked degraded. Default: 20.'),
  badPercent: z
    .number()
    .min(1)
    .max(100)
    .default(20)
    .describe(
      'Share of bad exchanges (failed, or slower than slowMs) in the window that marks the path degraded, in %. Default: 20.',
    ),
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
    .describe(
      'A degraded path recovers once the window holds at least this many exchanges and none was bad (with payments elsewhere: probes). Default: 3.',
    ),
});

export const AdaptiveTimeoutSchema = z.strictObject({
  percentile: z
    .number()
    .gt(0)
    .max(1)
    .default(0.99)
    .describe('Latency percentile of the path the timeout follows (0..1]. Default: 0.99.'),
  factor: z
    .number()
    .min(1)
    .max(100)
    .default(4)
    .describe('The timeout is the percentile times this. Default: 4.'),
  floorMs: positiveMs(600_000)
    .default(30)
    .describe('Shortest adaptive attempt timeout, in ms. Default: 30.'),
  ceilingMs: positiveMs(600_000)
    .default(2_000)
    .describe(
      'Longest adaptive attempt timeout (and the timeout before enough samples exist), in ms. Default: 2000.',
    ),
  minSamples: z
    .int()
    .min(1)
    .max(512)
    .default(50)
    .describe('Latency samples a path needs before its timeout adapts. Default: 50.'),
  silentPath: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe('Whether attempts are given up early on a path that fell silent. Default: true.'),
      afterMs: positiveMs(600_000)
        .default(20)
        .describe(
          "Silence since the attempt was sent after which it is given up, in ms; at least the path's median latency times the factor. Default: 20.",
        ),
      waiting: z
        .int()
        .min(1)
        .max(1_000)
        .default(2)
        .describe('Attempts sent later over the same path that must be waiting too. Default: 2.'),
    })
    .prefault({})
    .describe(
      'Gives up an attempt before its adaptive timeout when its path has answered nothing at all since it was sent, while later attempts wait too: a cut carrier, not one slow answer. Only where the timeout adapts.',
    ),
});

export const RoutingSchema = z.strictObject({
  egressCheckMs: z
    .int()
    .min(0)
    .max(3_600_000)
    .default(5_000)
    .describe(
      "How often the kernel is asked how each path's packets leave (interface and next hop), in ms; also at start, on every policy change and when addresses, routes or rules change. Paths that leave the same way count once for redundancy. 0: only at start and on changes. Default: 5000.",
    ),
  manage: z
    .boolean()
    .default(false)
    .describe(
      "Let `paypath serve` keep a routing table per path (`ip rule from ADDRESS table N`, a default route via the path's gateway in it), following interface addresses, and remove what it added on exit. Needs CAP_NET_ADMIN and the ip command. Default: false.",
    ),
  tableBase: z
    .int()
    .min(1)
    .max(250_000_000)
    .default(100)
    .describe(
      "Routing table of the first path is tableBase + 1, of the second tableBase + 2, and so on (doctor's commands and routing.manage). Default: 100.",
    ),
  rulePriority: z
    .int()
    .min(1)
    .max(32_000)
    .default(1_000)
    .describe(
      "Priority of the first path's `ip rule` (the next paths' follow it); below the main table's 32766. Default: 1000.",
    ),
});

export const RedundancySchema = z.strictObject({
  alertBelow: z
    .int()
    .min(1)
    .default(3)
    .describe(
      'Alert when the redundancy level counts fewer independent paths than this (healthy ones, proven within provenWithinMs; N+1 counts two). Default: 3.',
    ),
  webhooks: z
    .array(upstreamUrl)
    .default([])
    .describe('URLs notified on every redundancy drop and recovery. Default: [].'),
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
