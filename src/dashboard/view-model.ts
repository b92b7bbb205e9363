// Pure functions that turn /status documents into what the dashboard shows; unit-tested without a browser.
import type { PathStatus, Status } from './api.ts';
import { formatAgo, formatDuration, formatRate, type Tone } from './format.ts';
import { outageStart } from './timeline.ts';

export interface BannerView {
  tone: Tone;
  level: string;
  text: string;
}

/**
 * The telephone-exchange rule: alarm at the first lost spare, not the last. The spares are the level's
 * (`N+1` is one): a healthy path not proven for longer than the policy allows is no spare.
 */
export function redundancyBanner(
  redundancy: Status['redundancy'],
  sharedEgress: NonNullable<Status['sharedEgress']> = [],
): BannerView {
  const { level, healthy, total, unproven = [] } = redundancy;
  // Paths that leave the same way are one path: say why the count is lower than the policy's.
  const why = sharedEgress.map((g) => `; ${g.paths.join(', ')} all leave by ${g.egress}`).join('');
  const notCounted =
    unproven.length > 0
      ? `; not counted, unproven for longer than the policy allows: ${unproven.join(', ')}`
      : '';
  const of = `${healthy} of ${total} independent paths healthy${why}${notCounted}`;
  if (level === 'down' || healthy === 0)
    return { tone: 'down', level: 'down', text: `DOWN: no healthy path (${of})` };
  const spares = Number(level.slice(2));
  if (spares >= 2) return { tone: 'ok', level, text: `${level}: ${of}` };
  if (spares === 1)
    return { tone: 'warn', level, text: `${level}: one spare left: repair now (${of})` };
  return {
    tone: 'bad',
    level,
    text: `${level}: no spare left, the next failure stops payments (${of})`,
  };
}

/** `leaves by s1 via 10.201.1.1 from 10.201.3.2 (shared with kt-fiber)`, or why it cannot carry anything; null when unknown. */
export function egressLine(egress: PathStatus['egress']): { tone: Tone; text: string } | null {
  if (!egress || egress.state === 'unknown' || egress.state === 'local') return null;
  if (egress.state !== 'known') return { tone: 'bad', text: egress.reason ?? egress.state };
  const how = `leaves by ${egress.interface}${egress.gateway ? ` via ${egress.gateway}` : ''}${egress.source ? ` from ${egress.source}` : ''}`;
  return egress.sharedWith.length > 0
    ? { tone: 'warn', text: `${how}, the same way as ${egress.sharedWith.join(', ')}` }
    : { tone: 'ok', text: how };
}

export interface PathView {
  tone: Tone;
  label: string;
  /** True while the path carries nothing: its latency figures are history, not news. */
  down: boolean;
}

/**
 * A path card's tone and state label. A path whose breaker is open or half-open is down since it last
 * left closed (a half-open trial is not a recovery); a path that has answered nothing (payments or probes)
 * for the detection window is down whatever its breaker says (when every carrier is cut the last breaker
 * stays closed, and green would be a lie); a path that has carried nothing and never been probed is
 * untested, not healthy; a lossy one (degraded) is amber.
 */
export function pathView(
  path: Pick<PathStatus, 'state' | 'silentSince'> &
    Partial<
      Pick<
        PathStatus,
        'transitions' | 'requests' | 'lastProbe' | 'provenAt' | 'degradedSince' | 'badPercent'
      >
    >,
  now = Date.now(),
): PathView {
  if (path.state === 'isolated') {
    // A drill of a path that was down already does not make it look deliberate: it is still down.
    const downSince = outageStart({ state: path.state, transitions: path.transitions ?? [] });
    if (downSince === null) return { tone: 'warn', label: 'isolated by a drill', down: false };
    return {
      tone: 'bad',
      label: `down for ${formatDuration(now - downSince)}, isolated by a drill`,
      down: true,
    };
  }
  const breakerDown = path.state === 'open' || path.state === 'half-open';
  if (breakerDown || path.silentSince) {
    const silent = path.silentSince ? Date.parse(path.silentSince) : null;
    const opened = breakerDown
      ? outageStart({ state: path.state, transitions: path.transitions ?? [] })
      : null;
    const since = [silent, opened].filter((v): v is number => v !== null && Number.isFinite(v));
    const duration = since.length > 0 ? ` for ${formatDuration(now - Math.min(...since))}` : '';
    return { tone: path.silentSince ? 'down' : 'bad', label: `down${duration}`, down: true };
  }
  if (path.degradedSince) {
    // Lossy but answering: still a spare, tried after its siblings.
    const bad =
      typeof path.badPercent === 'number'
        ? `, ${Math.round(path.badPercent)} % slow or failed`
        : '';
    return {
      tone: 'warn',
      label: `degraded for ${formatDuration(now - Date.parse(path.degradedSince))}${bad}`,
      down: false,
    };
  }
  if (path.requests === 0 && !path.lastProbe && !path.provenAt)
    return { tone: 'muted', label: 'untested: no traffic, no probe', down: false };
  return {
    tone: breakerTone(path.state),
    label: path.state === 'closed' ? 'up' : path.state,
    down: false,
  };
}

/** When a drill last proved the path by making it carry traffic, and whether that is recent enough for the policy. */
export function drillProofLine(
  path: Partial<Pick<PathStatus, 'lastPassingDrillAt' | 'proven'>>,
  now: number,
): { tone: Tone; text: string } | null {
  if (path.lastPassingDrillAt === undefined) return null; // an older gateway
  if (path.proven === false) {
    const when = path.lastPassingDrillAt
      ? `last proven by a drill ${formatAgo(Date.parse(path.lastPassingDrillAt), now)}`
      : 'never proven by a drill';
    return {
      tone: 'bad',
      text: `${when}: unproven for longer than the policy allows, not counted as a spare`,
    };
  }
  if (path.lastPassingDrillAt === null) return { tone: 'muted', text: 'never proven by a drill' };
  return {
    tone: 'ok',
    text: `last proven by a drill ${formatAgo(Date.parse(path.lastPassingDrillAt), now)}`,
  };
}

/**
 * Each path's share of the answered attempts (the traffic it carried) and its answered attempts per second
 * over the last `windowMs`; null without two samples. Failed attempts count for nobody: a dead path that
 * is still tried carries nothing.
 */
export function trafficShares(
  history: ReadonlyMap<string, readonly Sample[]>,
  now: number,
  windowMs = 60_000,
): Map<string, { share: number | null; perSecond: number | null }> {
  const counts = new Map<string, { carried: number; seconds: number } | null>();
  for (const [id, samples] of history) {
    const recent = samples.filter((s) => s.at >= now - windowMs);
    const first = recent[0];
    const last = recent[recent.length - 1];
    if (!first || !last || last.at <= first.at) {
      counts.set(id, null);
      continue;
    }
    const carried = Math.max(
      0,
      counterDelta(first.requests, last.requests) - counterDelta(first.failures, last.failures),
    );
    counts.set(id, { carried, seconds: (last.at - first.at) / 1000 });
  }
  const total = [...counts.values()].reduce((sum, c) => sum + (c?.carried ?? 0), 0);
  const out = new Map<string, { share: number | null; perSecond: number | null }>();
  for (const [id, c] of counts)
    out.set(id, {
      share: c && total > 0 ? c.carried / total : null,
      perSecond: c ? c.carried / c.seconds : null,
    });
  return out;
}

/** A counter's growth between two readings; from zero when it went back (rebuilt path, restarted gateway). */
function counterDelta(first: number, last: number): number {
  return last >= first ? last - first : last;
}

export interface PaymentSample {
  at: number;
  total: number;
  answered: number;
}

/** Payments that got the processor's definitive answer (a decline included) over the last `windowMs` (from /status `payments`): the figure an outage moves. */
export function paymentSuccess(
  samples: readonly PaymentSample[],
  now: number,
  windowMs = 60_000,
): { tone: Tone; text: string; rate: number | null } {
  const recent = samples.filter((s) => s.at >= now - windowMs);
  const first = recent[0];
  const last = recent[recent.length - 1];
  if (!first || !last)
    return { tone: 'muted', text: 'payments: no figures from this gateway', rate: null };
  const total = counterDelta(first.total, last.total);
  const answered = counterDelta(first.answered, last.answered);
  const since = `${Math.round(last.total)} since start`;
  if (total <= 0)
    return { tone: 'muted', text: `payments: none in the last minute (${since})`, rate: null };
  const rate = answered / total;
  const tone: Tone = rate >= 0.999 ? 'ok' : rate >= 0.95 ? 'warn' : 'bad';
  return {
    tone,
    rate,
    text: `payments: ${formatRate(rate)} succeeded in the last minute (${answered} of ${total}; ${since})`,
  };
}

export function breakerTone(state: string): Tone {
  if (state === 'closed') return 'ok';
  // Isolated is deliberate (a drill): amber, not the red of a failure.
  if (state === 'half-open' || state === 'isolated') return 'warn';
  if (state === 'open') return 'bad';
  return 'muted';
}

/** One /status poll, reduced to what the history needs. */
export interface Sample {
  at: number;
  requests: number;
  failures: number;
  p50: number | null;
  p99: number | null;
}

/** Failed attempts / attempts over the samples in the last `windowMs`; null without traffic there. */
export function recentFailureRate(
  samples: readonly Sample[],
  now: number,
  windowMs = 60_000,
): number | null {
  const recent = samples.filter((s) => s.at >= now - windowMs);
  const first = recent[0];
  const last = recent[recent.length - 1];
  if (!first || !last) return null;
  // Counters restart when a policy change rebuilds the path: then count from zero.
  const requests = last.requests >= first.requests ? last.requests - first.requests : last.requests;
  const failures = last.failures >= first.failures ? last.failures - first.failures : last.failures;
  if (requests <= 0) return null;
  return failures / requests;
}

/** SVG polyline points for a latency series on a time axis [from, to] scaled into a width × height box; null gaps are skipped. */
export function sparkline(
  points: readonly { at: number; value: number | null }[],
  from: number,
  to: number,
  width: number,
  height: number,
  max: number,
): string {
  if (to <= from || max <= 0) return '';
  const out: string[] = [];
  for (const { at, value } of points) {
    if (value === null || at < from || at > to) continue;
    const x = ((at - from) / (to - from)) * width;
    const y = height - (Math.min(value, max) / max) * (height - 2) - 1;
    out.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  return out.join(' ');
}
