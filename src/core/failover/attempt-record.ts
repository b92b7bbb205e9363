/** How an attempt on a path ended, as the path's counters, metrics and logs see it. */
export type AttemptOutcome = 'answered' | 'upstream_error' | 'not_sent' | 'sent_no_answer';

export interface AttemptRecord {
  pathId: string;
  outcome: AttemptOutcome;
  /** AttemptErrorCode for failures, `http_<status>` for answers. */
  code: string;
  status?: number;
  durationMs: number;
}
