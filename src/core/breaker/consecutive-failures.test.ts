import { afterEach, describe, expect, it } from 'vitest';
import { AttemptError } from '../attempt-error.ts';
import type { IBreaker } from './breaker.ts';
import { OpossumBreaker } from '../../adapters/node/opossum-breaker.ts';
import { TimestampBreaker } from './timestamp-breaker.ts';

// A 10 s window at 50 %: after 1,000 successes, the share rule alone would need 1,000 failures.
const config = { windowMs: 10_000, errorThresholdPercentage: 50, volumeThreshold: 5, consecutiveFailures: 3, resetTimeoutMs: 5_000 };
const timeout = () => Promise.reject(new AttemptError('response_timeout', 'sent', 'silent'));
const excused = () => {
  const error = new AttemptError('response_timeout', 'sent', 'nobody answered');
  error.countsAgainstPath = false;
  return Promise.reject(error);
};
const serverError = () => Promise.reject(new Error('http_503 answered'));
const ok = () => Promise.resolve('ok');

describe.each([
  ['OpossumBreaker', () => new OpossumBreaker(config)],
  ['TimestampBreaker', () => new TimestampBreaker(config)],
])('%s: a run of transport failures', (_name, make: () => IBreaker) => {
  let breaker: IBreaker;
  afterEach(() => breaker.dispose());

  const busy = async () => {
    breaker = make();
    for (let i = 0; i < 1_000; i++) await breaker.execute(ok);
  };

  it('opens the breaker after a long run of successes, naming why', async () => {
    await busy();
    const reasons: string[] = [];
    breaker.onStateChange((t) => reasons.push(`${t.to}:${t.reason}`));
    await breaker.execute(timeout).catch(() => {});
    await breaker.execute(timeout).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.execute(timeout).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['open:consecutive-failures']);
  });

  it('is broken by a success or an answer, not by an excused failure', async () => {
    await busy();
    for (const between of [ok, serverError]) {
      await breaker.execute(timeout).catch(() => {});
      await breaker.execute(timeout).catch(() => {});
      await breaker.execute(between).catch(() => {});
      await breaker.execute(timeout).catch(() => {});
      expect(breaker.state).toBe('closed');
      await breaker.execute(ok);
    }
    await breaker.execute(timeout).catch(() => {});
    await breaker.execute(excused).catch(() => {});
    await breaker.execute(timeout).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.execute(timeout).catch(() => {});
    expect(breaker.state).toBe('open');
  });
});
