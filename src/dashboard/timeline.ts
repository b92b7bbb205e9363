// Outages from breaker transitions, and the timeline of outages, drills and policy changes.
import type { Drill, PathStatus, Status } from './api.ts';
import { formatAgo, formatDuration, type Tone } from './format.ts';

/** The start of the outage a path is in now (ms), from its transitions; null when it is in none. */
export function outageStart(path: Pick<PathStatus, 'state' | 'transitions'>): number | null {
  if (path.state === 'closed') return null;
  const last = outages(path.transitions).at(-1);
  return last && last.end === null ? last.start : null;
}

export interface TimelineEvent {
  at: number;
  kind: 'outage' | 'transition' | 'drill' | 'policy';
  path: string;
  tone: Tone;
  text: string;
}

/** A policy revision as /status or the admin API's history tell it. */
export interface RevisionEvent {
  revision: number;
  appliedAt: string;
  source: string;
  actor?: string;
}

/** An invalid policy file on disk, as /status `policyFile` tells it. */
export type PolicyFileState = NonNullable<Status['policyFile']>;

interface Outage {
  start: number;
  /** When the path closed again; null while the outage lasts. */
  end: number | null;
  reason: string;
  /** Half-open trials that failed. */
  retries: number;
  /** Its start fell out of the transitions /status keeps: it is at least this long. */
  partial: boolean;
}

/**
 * A path's outages, oldest first: an open ⇄ half-open cycle without a success is one outage, from the
 * path leaving closed to its return. A drill neither starts nor ends one: a path that was down when a
 * drill isolated it stays down.
 */
function outages(transitions: PathStatus['transitions']): Outage[] {
  const found: Outage[] = [];
  let outage: Outage | null = null;
  const sorted = [...transitions].sort((a, b) => a.at - b.at);
  for (const [index, t] of sorted.entries()) {
    if (t.to === 'isolated') {
      // The outage's start fell out of the kept transitions, but the path was down when isolated.
      if (outage === null && index === 0 && t.from !== 'closed')
        found.push(
          (outage = {
            start: t.at,
            end: null,
            reason: `${t.from} when a drill isolated it`,
            retries: 0,
            partial: true,
          }),
        );
      continue;
    }
    if (t.to === 'closed') {
      if (outage) outage.end = t.at;
      outage = null;
    } else if (outage === null) {
      found.push(
        (outage = {
          start: t.at,
          end: null,
          reason: t.reason,
          retries: 0,
          partial: index === 0 && t.from !== 'closed',
        }),
      );
    } else if (t.from === 'half-open' && t.to === 'open') outage.retries++;
  }
  return found;
}

/** One timeline line per outage instead of every breaker flip. Isolations are the drills' lines. */
export function outageEvents(
  path: Pick<PathStatus, 'id' | 'state' | 'transitions'>,
  now: number,
): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const outage of outages(path.transitions)) {
    const atLeast = outage.partial ? 'at least ' : '';
    if (outage.end !== null) {
      const retries =
        outage.retries > 0
          ? `, ${outage.retries} failed ${outage.retries === 1 ? 'retry' : 'retries'}`
          : '';
      events.push({
        at: outage.end,
        kind: 'outage',
        path: path.id,
        tone: 'ok',
        text: `${path.id} recovered after ${atLeast}${formatDuration(outage.end - outage.start)} down (${outage.reason}${retries})`,
      });
    } else if (path.state !== 'closed') {
      const retries =
        outage.retries > 0
          ? `; ${outage.retries} half-open ${outage.retries === 1 ? 'trial' : 'trials'} failed`
          : '';
      events.push({
        at: outage.start,
        kind: 'outage',
        path: path.id,
        tone: 'bad',
        text: `${path.id} down since ${new Date(outage.start).toLocaleTimeString()}, for ${atLeast}${formatDuration(now - outage.start)} (${outage.reason}${retries})`,
      });
    }
  }
  return events;
}

/** Outages, drills, policy applies and reloads, and invalid policy files (each one seen) of the last `windowMs`, newest first. */
export function timeline(
  paths: readonly PathStatus[],
  drills: readonly Drill[],
  now: number,
  windowMs = 3_600_000,
  policy: { revisions?: readonly RevisionEvent[]; fileErrors?: readonly PolicyFileState[] } = {},
): TimelineEvent[] {
  const events: TimelineEvent[] = paths.flatMap((path) => outageEvents(path, now));
  const seen = new Set<string>();
  for (const drill of drills) {
    if (seen.has(drill.id)) continue;
    seen.add(drill.id);
    const started = Date.parse(drill.startedAt);
    const by = drill.actor ?? drill.trigger ?? 'drill';
    const drilled = drill.paths && drill.paths.length > 0 ? drill.paths : [drill.path];
    const on = drilled.join(' + ');
    if (drill.status === 'running') {
      events.push({
        at: started,
        kind: 'drill',
        path: drill.path,
        tone: 'warn',
        text: `drill ${drill.id} isolating ${on} (${by})`,
      });
      continue;
    }
    const ended = drill.endedAt ? Date.parse(drill.endedAt) : started;
    const result =
      drill.status === 'passed'
        ? 'passed'
        : `${drill.status}${drill.endReason ? `: ${drill.endReason}` : ''}`;
    const counts =
      drill.requests !== undefined
        ? `, ${drill.requests} requests, ${drill.failed ?? 0} failed`
        : '';
    const carried = Object.entries(drill.carriedBy ?? {}).filter(([, n]) => n > 0);
    const carriers =
      carried.length > 0 ? `; carried by ${carried.map(([id, n]) => `${id} ${n}`).join(', ')}` : '';
    events.push({
      at: ended,
      kind: 'drill',
      path: drill.path,
      tone: drill.status === 'passed' ? 'ok' : 'bad',
      text: `drill ${drill.id} on ${on} ${result} (${by}${counts}${carriers})`,
    });
  }
  for (const r of policy.revisions ?? []) {
    const how =
      r.source === 'file'
        ? 'reloaded from the policy file'
        : r.source === 'rollback'
          ? 'rolled back'
          : r.source === 'startup'
            ? 'loaded at start'
            : 'applied';
    events.push({
      at: Date.parse(r.appliedAt),
      kind: 'policy',
      path: '',
      tone: 'muted',
      text: `policy revision ${r.revision} ${how}${r.actor ? ` by ${r.actor}` : ''}`,
    });
  }
  for (const { file, lastError } of policy.fileErrors ?? []) {
    if (!lastError) continue;
    events.push({
      at: Date.parse(lastError.at),
      kind: 'policy',
      path: '',
      tone: 'bad',
      text: `policy file ${file ?? ''} is invalid: ${describeIssues(lastError.issues)}; the running policy is kept`,
    });
  }
  return events
    .filter((e) => e.at >= now - windowMs && e.at <= now + 60_000)
    .sort((a, b) => b.at - a.at);
}

function describeIssues(issues: readonly { path: string; message: string }[]): string {
  const first = issues[0];
  if (!first) return 'no details';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${first.path ? `${first.path}: ` : ''}${first.message}${more}`;
}

/** The notice above the cards while the policy file on disk is invalid; null while it is fine. */
export function policyFileNotice(
  file: PolicyFileState | null | undefined,
  now: number,
): string | null {
  if (!file?.lastError) return null;
  return `Policy file ${file.file ?? ''} on disk is INVALID (since ${formatAgo(Date.parse(file.lastError.at), now)}): ${describeIssues(file.lastError.issues)}. The gateway keeps running the last good policy; fix the file or apply from the editor.`;
}
