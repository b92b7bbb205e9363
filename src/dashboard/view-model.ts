// Pure functions that turn /status documents into what the dashboard shows; unit-tested without a browser.
import type { Drill, PathStatus, Status } from './api.ts';

export type Tone = 'ok' | 'warn' | 'bad' | 'down' | 'muted';

export interface BannerView {
  tone: Tone;
  level: string;
  text: string;
}

/** The telephone-exchange rule: alarm at the first lost spare, not the last. */
export function redundancyBanner(redundancy: Status['redundancy'], sharedEgress: NonNullable<Status['sharedEgress']> = []): BannerView {
  const { level, healthy, total } = redundancy;
  // Paths that leave the same way are one path: say why the count is lower than the policy's.
  const why = sharedEgress.map((g) => `; ${g.paths.join(', ')} all leave by ${g.egress}`).join('');
  const of = `${healthy} of ${total} independent paths healthy${why}`;
  if (level === 'down' || healthy === 0) return { tone: 'down', level: 'down', text: `DOWN: no healthy path (${of})` };
  const spares = healthy - 1;
  if (spares >= 2) return { tone: 'ok', level, text: `${level}: ${of}` };
  if (spares === 1) return { tone: 'warn', level, text: `${level}: one spare left: repair now (${of})` };
  return { tone: 'bad', level, text: `${level}: no spare left, the next failure stops payments (${of})` };
}

/** `leaves by s1 via 10.201.1.1 from 10.201.3.2 (shared with kt-fiber)`, or why it cannot carry anything; null when unknown. */
export function egressLine(egress: PathStatus['egress']): { tone: Tone; text: string } | null {
  if (!egress || egress.state === 'unknown' || egress.state === 'local') return null;
  if (egress.state !== 'known') return { tone: 'bad', text: egress.reason ?? egress.state };
  const how = `leaves by ${egress.interface}${egress.gateway ? ` via ${egress.gateway}` : ''}${egress.source ? ` from ${egress.source}` : ''}`;
  return egress.sharedWith.length > 0 ? { tone: 'warn', text: `${how}, the same way as ${egress.sharedWith.join(', ')}` } : { tone: 'ok', text: how };
}

/**
 * A path card's tone and state label. A path that has answered nothing (payments or probes) for the
 * detection window is `down` whatever its breaker says: when every carrier is cut, the last breaker
 * stays closed, and green would be a lie.
 */
export function pathView(path: Pick<PathStatus, 'state' | 'silentSince'>): { tone: Tone; label: string } {
  if (path.silentSince && path.state !== 'isolated') return { tone: 'down', label: `${path.state} · not answering` };
  return { tone: breakerTone(path.state), label: path.state };
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
export function recentFailureRate(samples: readonly Sample[], now: number, windowMs = 60_000): number | null {
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

export function formatRate(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 0)} %`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

export function formatAgo(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

export interface TimelineEvent {
  at: number;
  kind: 'transition' | 'drill';
  path: string;
  tone: Tone;
  text: string;
}

/** Breaker transitions and drills of the last `windowMs`, newest first. */
export function timeline(paths: readonly PathStatus[], drills: readonly Drill[], now: number, windowMs = 3_600_000): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const path of paths) {
    for (const t of path.transitions) {
      events.push({ at: t.at, kind: 'transition', path: path.id, tone: breakerTone(t.to), text: `${path.id}: ${t.from} → ${t.to} (${t.reason})` });
    }
  }
  const seen = new Set<string>();
  for (const drill of drills) {
    if (seen.has(drill.id)) continue;
    seen.add(drill.id);
    const started = Date.parse(drill.startedAt);
    const by = drill.actor ?? drill.trigger ?? 'drill';
    if (drill.status === 'running') {
      events.push({ at: started, kind: 'drill', path: drill.path, tone: 'warn', text: `drill ${drill.id} on ${drill.path} running (${by})` });
      continue;
    }
    const ended = drill.endedAt ? Date.parse(drill.endedAt) : started;
    const result = drill.status === 'passed' ? 'passed' : `${drill.status}${drill.endReason ? `: ${drill.endReason}` : ''}`;
    const counts = drill.requests !== undefined ? `, ${drill.requests} requests, ${drill.failed ?? 0} failed` : '';
    events.push({ at: ended, kind: 'drill', path: drill.path, tone: drill.status === 'passed' ? 'ok' : 'bad', text: `drill ${drill.id} on ${drill.path} ${result} (${by}${counts})` });
  }
  return events.filter((e) => e.at >= now - windowMs && e.at <= now + 60_000).sort((a, b) => b.at - a.at);
}

/** SVG polyline points for a latency series on a time axis [from, to] scaled into a width × height box; null gaps are skipped. */
export function sparkline(points: readonly { at: number; value: number | null }[], from: number, to: number, width: number, height: number, max: number): string {
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
