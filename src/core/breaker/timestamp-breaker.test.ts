import { describe, expect, it } from 'vitest';
import { BreakerOpenError } from './breaker.ts';
import { TimestampBreaker } from './timestamp-breaker.ts';

const config = { windowMs: 10_000, errorThresholdPercentage: 50, volumeThreshold: 3, consecutiveFailures: 5, resetTimeoutMs: 1_000 };
const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('ok');

function clocked() {
  const clock = { t: 1_000_000 };
  const breaker = new TimestampBreaker(config, { now: () => clock.t });
  return { clock, breaker };
}

describe('TimestampBreaker', () => {
  it('opens past the threshold once the volume is reached, and rejects without calling', async () => {
    const { breaker } = clocked();
    await breaker.execute(fail).catch(() => {});
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
    let called = false;
    await expect(breaker.execute(async () => (called = true))).rejects.toBeInstanceOf(BreakerOpenError);
    expect(called).toBe(false);
  });

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
    const trial = breaker.execute(() => new Promise<string>((resolve) => (release = () => resolve('ok'))));
    expect(breaker.isAvailable).toBe(false);
    release();
    expect(await trial).toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(transitions).toEqual(['closed->open:probe', 'open->half-open:reset-timeout', 'half-open->closed:trial-succeeded']);
  });

  it('re-opens when the half-open trial fails', async () => {
    const { clock, breaker } = clocked();
    breaker.trip('probe');
    clock.t += 1_000;
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('forgets failures that fell out of the window', async () => {
    const { clock, breaker } = clocked();
    await breaker.execute(fail).catch(() => {});
    await breaker.execute(fail).catch(() => {});
    clock.t += 10_001;
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
  });

  it('does not open while successes keep the failure share at or below the threshold', async () => {
    const { breaker } = clocked();
    for (let i = 0; i < 5; i++) {
      await breaker.execute(ok);
      await breaker.execute(fail).catch(() => {});
    }
    expect(breaker.state).toBe('closed');
  });

  it('holds an isolated breaker open until released', async () => {
    const { breaker } = clocked();
    const handle = breaker.isolate();
    expect(breaker.state).toBe('isolated');
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BreakerOpenError);
    handle.dispose();
    expect(await breaker.execute(ok)).toBe('ok');
  });
});
