export type DrillStatus = 'running' | 'passed' | 'failed';

/** One drill: paths held isolated while traffic continues, and what the other paths did meanwhile. */
export interface Drill {
  id: string;
  /** The first of `paths` (what a single-path drill's clients read). */
  path: string;
  /** Every path isolated: several at once make the spare of last resort carry real traffic. */
  paths: string[];
  actor: string;
  trigger: 'api' | 'schedule';
  status: DrillStatus;
  startedAt: string;
  endedAt: string | null;
  durationMs: number;
  /** Why it ended: `completed`, `request_failed` (ended early to protect traffic) or `stopped`. */
  endReason: string | null;
  /** Requests that matched a route using the drilled path, answered while the drill ran. */
  requests: number;
  /** Of those, how many each other path carried; each of them proved itself if the drill passes. */
  carriedBy: Record<string, number>;
  /** Of those, how many failed (must be 0 for the drill to pass). */
  failed: number;
  latencyMs: { baselineP50: number | null; drillP50: number | null; added: number | null };
}
