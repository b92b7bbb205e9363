import { describe, expect, it } from 'vitest';
import {
  attribute,
  chargeDeferred,
  probeVerdict,
  type AttemptFacts,
  type ProbeVerdict,
  type Verdict,
} from './attribution.ts';
import type { BreakerState } from './breaker.ts';

const quiet = { closedAtStart: true, answeredElsewhere: false };
const busy = { closedAtStart: true, answeredElsewhere: true };
const trial = { closedAtStart: false, answeredElsewhere: false };

describe('attribute', () => {
  it.each<[string, AttemptFacts, Verdict]>([
    ['a 2xx-4xx answer', { outcome: 'answered', code: 'http_201', ...quiet }, 'success'],
    ['a 402 decline', { outcome: 'answered', code: 'http_402', ...busy }, 'success'],
    ['a 5xx answer', { outcome: 'upstream_error', code: 'http_503', ...quiet }, 'other'],
    ['a 429 answer', { outcome: 'upstream_error', code: 'http_429', ...busy }, 'other'],
    ['a refused connect', { outcome: 'not_sent', code: 'connect_refused', ...quiet }, 'link'],
    [
      'a connect timeout, even while nobody answers',
      { outcome: 'not_sent', code: 'connect_timeout', ...quiet },
      'link',
    ],
    [
      'a lost connection after sending',
      { outcome: 'sent_no_answer', code: 'connection_lost', ...quiet },
      'link',
    ],
    [
      'a response timeout while another path answered',
      { outcome: 'sent_no_answer', code: 'response_timeout', ...busy },
      'link',
    ],
    [
      'a response timeout while nobody answered',
      { outcome: 'sent_no_answer', code: 'response_timeout', ...quiet },
      'defer',
    ],
    [
      'a response timeout of a half-open trial',
      { outcome: 'sent_no_answer', code: 'response_timeout', ...trial },
      'link',
    ],
    [
      'an error the transport did not classify',
      { outcome: 'sent_no_answer', code: 'unexpected', ...quiet },
      'other',
    ],
  ])('%s', (_name, facts, verdict) => {
    expect(attribute(facts)).toBe(verdict);
  });
});

describe('chargeDeferred', () => {
  it.each([
    [false, false, true],
    [true, false, false], // the timed-out path answered this request itself
    [false, true, false], // it answered since: the processor stalled, not the path
  ])(
    'answered this request %s, answered since the attempt %s: charged %s',
    (answeredThisRequest, answeredSinceAttempt, charged) => {
      expect(chargeDeferred({ answeredThisRequest, answeredSinceAttempt })).toBe(charged);
    },
  );
});

describe('probeVerdict', () => {
  it.each<[boolean, BreakerState, boolean, ProbeVerdict]>([
    [false, 'closed', true, 'trip'],
    [false, 'closed', false, 'none'], // never the last available path
    [false, 'half-open', true, 'trip'],
    [false, 'half-open', false, 'none'],
    [false, 'open', false, 'trip'], // keeps an open path open
    [false, 'isolated', true, 'none'],
    [true, 'closed', true, 'none'],
    [true, 'open', true, 'close'],
    [true, 'half-open', false, 'close'],
    [true, 'isolated', true, 'none'],
  ])('ok %s, state %s, others available %s: %s', (ok, state, othersAvailable, verdict) => {
    expect(probeVerdict({ ok, state, othersAvailable })).toBe(verdict);
  });
});
