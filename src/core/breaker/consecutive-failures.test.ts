import { afterEach, describe, expect, it } from 'vitest';
import type { Charge, IBreaker } from './breaker.ts';
import { OpossumBreaker } from '../../adapters/node/opossum-breaker.ts';
import { TimestampBreaker } from './timestamp-breaker.ts';

// A 10 s window at 50 %: after 1,000 successes, the share rule alone would need 1,000 failures.
const config = { windowMs: 10_000, errorThresholdPercentage: 50, volumeThreshold: 5, consecutiveFailures: 3, resetTimeoutMs: 5_000 };
// What the failover engine's attribution says of each call (attribution.ts).
const timeout = () => Promise.resolve('timed out');
const excused = () => Promise.resolve('timed out while nobody answered');
const serverError = () => Promise.resolve('http_503 answered');
const charges: Record<string, Charge> = { 'timed out': 'link', 'timed out while nobody answered': 'excused', 'http_503 answered': 'other', ok: 'success' };
const chargeOf = (result: string) => charges[result]!;
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
    await breaker.execute(timeout, chargeOf).catch(() => {});
    await breaker.execute(timeout, chargeOf).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.execute(timeout, chargeOf).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['open:consecutive-failures']);
  });

  it('is broken by a success or an answer, not by an excused failure', async () => {
    await busy();
    for (const between of [ok, serverError]) {
      await breaker.execute(timeout, chargeOf).catch(() => {});
      await breaker.execute(timeout, chargeOf).catch(() => {});
      await breaker.execute(between, chargeOf).catch(() => {});
      await breaker.execute(timeout, chargeOf).catch(() => {});
      expect(breaker.state).toBe('closed');
      await breaker.execute(ok);
    }
    await breaker.execute(timeout, chargeOf).catch(() => {});
    await breaker.execute(excused, chargeOf).catch(() => {});
    await breaker.execute(timeout, chargeOf).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.execute(timeout, chargeOf).catch(() => {});
    expect(breaker.state).toBe('open');
  });
});
