import type { BreakerState, Charge } from './breaker.ts';

/**
 * Who is at fault when an attempt or a probe fails: the one place that decides whether a path is
 * charged, excused or left to be judged later. Breakers only count what they are told here.
 */

/** What an attempt came to, named by what reached the wire. */
export type AttemptOutcome = 'answered' | 'upstream_error' | 'not_sent' | 'sent_no_answer';

export interface AttemptFacts {
  outcome: AttemptOutcome;
  /** AttemptErrorCode of a failure, `http_<status>` of an answer. */
  code: string;
  /** The path's breaker was closed when the attempt began (it was no half-open trial). */
  closedAtStart: boolean;
  /** Another path answered anything (a payment or a probe) since the attempt began. */
  answeredElsewhere: boolean;
}

/** A charge now, or `defer`: excused now, charged as a `link` failure if `chargeDeferred` says so. */
export type Verdict = Charge | 'defer';

export function attribute(facts: AttemptFacts): Verdict {
  switch (facts.outcome) {
    case 'answered':
      return 'success';
    case 'upstream_error':
      // The processor's 5xx/429: counts in the share, but the path carried bytes both ways.
      return 'other';
    case 'not_sent':
      return 'link';
    case 'sent_no_answer':
      // Not classified by the transport: it may be ours, not the carrier's.
      if (facts.code === 'unexpected') return 'other';
      // A timeout while no other path answered: the processor or this box may be the slow part,
      // not the path. A half-open trial is always judged by its result.
      if (facts.code === 'response_timeout' && facts.closedAtStart && !facts.answeredElsewhere)
        return 'defer';
      return 'link';
  }
}

/**
 * A deferred timeout, once another path answered the same request: the timed-out path was at fault,
 * unless it is the path that answered, or it answered anything itself since that attempt began
 * (then the processor was the slow part: a stall answers every path's queue when it ends).
 */
export function chargeDeferred(facts: {
  answeredThisRequest: boolean;
  answeredSinceAttempt: boolean;
}): boolean {
  return !facts.answeredThisRequest && !facts.answeredSinceAttempt;
}

export type ProbeVerdict = 'trip' | 'close' | 'none';

/**
 * What a finished probe does to its path's breaker. A failed probe opens the path with no payment
 * involved, and keeps an open one open (restarting its reset timer) so no payment trials a path
 * probes see as dead; never the last available path, though: when every probe fails at once, this
 * box may be the slow part (a stalled event loop), and payments then decide through the breaker.
 * A passing probe is the half-open trial; a drill's isolation is left alone.
 */
export function probeVerdict(facts: {
  ok: boolean;
  state: BreakerState;
  othersAvailable: boolean;
}): ProbeVerdict {
  if (facts.state === 'isolated') return 'none';
  if (!facts.ok) return facts.state === 'open' || facts.othersAvailable ? 'trip' : 'none';
  return facts.state === 'closed' ? 'none' : 'close';
}
