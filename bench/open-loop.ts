// Open-loop load: the send schedule is fixed in advance (request i at start + i / rate), and each
// latency is measured from its scheduled time, so a stalled gateway cannot slow the load down and
// hide its own stalls (no coordinated omission).
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { signHeadersSync, type MerchantCredentials } from './sign.ts';

export interface Sample {
  index: number;
  reference: string;
  /** ms since the run started. */
  scheduledAt: number;
  latencyMs: number;
  status: number;
  /** Transport error code when no HTTP answer came. */
  error?: string;
}

export interface OpenLoopOptions {
  url: string;
  rate: number;
  durationMs: number;
  referencePrefix: string;
  withKeys: boolean;
  /** Called at these ms offsets from the start (e.g. to cut a carrier). */
  events?: { atMs: number; run: () => Promise<void> }[];
  /** Client-side give-up per request. Default: 10 s. */
  timeoutMs?: number;
  /** Sign every request as this merchant (a gateway with merchant authentication on). Default: unsigned. */
  sign?: MerchantCredentials;
}

export async function openLoop(options: OpenLoopOptions): Promise<Sample[]> {
  const total = Math.round((options.rate * options.durationMs) / 1000);
  const interval = 1000 / options.rate;
  const pool = new Pool(options.url, {
    connections: 2048,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  const events = [...(options.events ?? [])].sort((a, b) => a.atMs - b.atMs);
  const eventRuns: Promise<void>[] = [];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const start = performance.now();

  const send = (index: number) => {
    const reference = `${options.referencePrefix}-${index}`;
    const scheduledAt = index * interval;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.withKeys) headers['idempotency-key'] = `k-${reference}`;
    const body = JSON.stringify({ amount: 4500, currency: 'KRW', reference });
    if (options.sign)
      Object.assign(headers, signHeadersSync(options.sign, 'POST', '/v1/payments', body));
    pending.push(
      pool
        .request({
          method: 'POST',
          path: '/v1/payments',
          headers,
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        })
        .then(async (response) => {
          await response.body.dump();
          samples.push({
            index,
            reference,
            scheduledAt,
            latencyMs: performance.now() - start - scheduledAt,
            status: response.statusCode,
          });
        })
        .catch((error: { code?: string }) => {
          samples.push({
            index,
            reference,
            scheduledAt,
            latencyMs: performance.now() - start - scheduledAt,
            status: 0,
            error: error.code ?? 'error',
          });
        }),
    );
  };

  let next = 0;
  while (next < total) {
    const elapsed = performance.now() - start;
    while (events.length > 0 && events[0]!.atMs <= elapsed) eventRuns.push(events.shift()!.run());
    while (next < total && next * interval <= elapsed) send(next++);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  for (const event of events) eventRuns.push(event.run());
  await Promise.all(pending);
  await Promise.all(eventRuns);
  await pool.close();
  return samples.sort((a, b) => a.index - b.index);
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** What one phase of a drill did to the payments scheduled in it (a table row of BENCHMARKS.md). */
export interface PhaseRow {
  phase: string;
  sent: number;
  failed: number;
  /** Took ≥ 1 s. */
  stalled: number;
  /** Charged more than once. */
  duplicates: number;
  /** Failed at the client but charged. */
  unknown: number;
  p50: number;
  p99: number;
  max: number;
  /** ms from the phase's start to its first success, when `firstSuccess` was asked for. */
  firstSuccessMs: number | null;
}

/** The samples scheduled in [from, to) ms of the run. */
export function samplesIn(samples: readonly Sample[], from: number, to: number): Sample[] {
  return samples.filter((s) => s.scheduledAt >= from && s.scheduledAt < to);
}

/** Summarises a phase's samples (scheduled from `from` ms on) against the processor's charges per reference. */
export function phaseRow(
  phase: string,
  inPhase: readonly Sample[],
  from: number,
  chargesByReference: Record<string, number>,
  firstSuccess: boolean,
): PhaseRow {
  const ok = (s: Sample) => s.status >= 200 && s.status < 300;
  const latencies = inPhase.map((s) => s.latencyMs);
  const successesAfter = inPhase.filter(ok).map((s) => s.scheduledAt + s.latencyMs - from);
  return {
    phase,
    sent: inPhase.length,
    failed: inPhase.filter((s) => !ok(s)).length,
    stalled: inPhase.filter((s) => s.latencyMs >= 1_000).length,
    duplicates: inPhase.filter((s) => (chargesByReference[s.reference] ?? 0) > 1).length,
    unknown: inPhase.filter((s) => !ok(s) && (chargesByReference[s.reference] ?? 0) > 0).length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.length > 0 ? Math.max(...latencies) : NaN,
    firstSuccessMs: firstSuccess && successesAfter.length > 0 ? Math.min(...successesAfter) : null,
  };
}

/** A number for a table cell; '–' when there is none. */
export function fmt(n: number | null, digits = 0): string {
  if (n === null || Number.isNaN(n)) return '–';
  return n.toFixed(digits);
}
