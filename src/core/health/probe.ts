import type { IBreaker } from '../breaker/breaker.ts';
import { AttemptError } from '../attempt-error.ts';
import { AttemptTimer } from '../failover/attempt-timer.ts';
import type { PathConfig, Policy } from '../policy/schema.ts';
import { discardBody, type PathTransport } from '../transport.ts';

export type ProbeConfig = Policy['probe'];

/** The last probe of a path, as /status shows it. */
export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  /** ISO time the probe finished. */
  at: string;
  /** AttemptError code (`connect_timeout`, `response_timeout`, …) when the probe failed. */
  error: string | null;
  /** Upstream status when it answered. */
  status: number | null;
}

export interface ProbeTarget {
  readonly config: PathConfig;
  readonly breaker: IBreaker;
  readonly transport: PathTransport;
}

/**
 * How often a path is probed now, or undefined when only on demand. By grade: mirror and hot every
 * `intervalMs`, warm every `intervalMs × warmFactor`, cold never. A path whose breaker is not
 * closed is probed every `intervalMs` whatever its grade (cold excepted), so probes drive its recovery.
 */
export function probeIntervalMs(probe: ProbeConfig, path: ProbeTarget): number | undefined {
  if (path.config.grade === 'cold') return undefined;
  if (path.breaker.state !== 'closed') return probe.intervalMs;
  return path.config.grade === 'warm' ? probe.intervalMs * probe.warmFactor : probe.intervalMs;
}

/**
 * Sends one probe over the path's own transport (so it meets exactly what a payment would: the
 * carrier, the bound source address, the keep-alive pool). Any HTTP answer passes: the path
 * carried the request, and a processor error is not the path's fault. Only a transport failure or
 * no answer within `timeoutMs` fails it. Never rejects.
 */
export async function sendProbe(
  path: ProbeTarget,
  probe: ProbeConfig,
  now: () => number = Date.now,
): Promise<ProbeResult> {
  const { path: target, timeoutMs } = probe;
  const started = now();
  const finish = (error: string | null, status: number | null): ProbeResult => ({
    ok: error === null,
    latencyMs: Math.round((now() - started) * 10) / 10,
    at: new Date().toISOString(),
    error,
    status,
  });
  // A probe that fails opens the path, so a timer made late by a busy loop must not fail it.
  const timer = new AttemptTimer(timeoutMs);
  try {
    const response = await path.transport.send(
      {
        method: 'GET',
        target,
        headers: new Headers({ 'user-agent': 'paypath-probe' }),
        body: null,
      },
      { signal: timer.signal, bodyTimeoutMs: timeoutMs },
    );
    await discardBody(response);
    return finish(null, response.status);
  } catch (error) {
    return finish(error instanceof AttemptError ? error.code : 'unexpected', null);
  } finally {
    timer.dispose();
  }
}
