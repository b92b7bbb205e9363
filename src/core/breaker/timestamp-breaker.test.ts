import { describe, expect, it } from 'vitest';
import { TimestampBreaker } from './timestamp-breaker.ts';

const config = {
  windowMs: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 3,
  consecutiveFailures: 5,
  resetTimeoutMs: 1_000,
};
const fail = () => Promise.reject(new Error('down'));

function clocked() {
  const clock = { t: 1_000_000 };
  const breaker = new TimestampBreaker(config, { now: () => clock.t });
  return { clock, breaker };
}

// The rules every engine keeps are in breaker-contract.test.ts; these are this engine's clock.
describe('TimestampBreaker', () => {
  it('becomes half-open by time alone, admits one trial at a time, closes on success', async () => {
    const { clock, breaker } = clocked();
    const transitions: string[] = [];
    breaker.onStateChange((t) => transitions.push(`${t.from}->${t.to}:${t.reason}`));
    breaker.trip('probe');
    clock.t += 999;
    expect(breaker.state).toBe('open');
    clock.t += 1;
    expect(breaker.state).toBe('half-open');
    let release!: () => void;
    const trial = breaker.execute(
      () => new Promise<string>((resolve) => (release = () => resolve('ok'))),
    );
    expect(breaker.isAvailable).toBe(false);
    release();
    expect(await trial).toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(transitions).toEqual([
      'closed->open:probe',
      'open->half-open:reset-timeout',
      'half-open->closed:trial-succeeded',
    ]);
  });

  it('forgets failures that fell out of the window', async () => {
    const { clock, breaker } = clocked();
    await breaker.execute(fail).catch(() => {});
    await breaker.execute(fail).catch(() => {});
    clock.t += 10_001;
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
  });
});
