import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpossumBreaker } from '../../adapters/node/opossum-breaker.ts';
import type { BreakerConfig } from '../policy/schema.ts';
import { BreakerOpenError, type BreakerTransition, type Charge, type IBreaker } from './breaker.ts';
import { TimestampBreaker } from './timestamp-breaker.ts';

/**
 * The rules every breaker engine keeps, run against each: opossum's (Node, timers) and the
 * timestamp one (Workers, no timers). Calls are charged as attribute() would charge them.
 */
const engines: [string, (config: BreakerConfig) => IBreaker][] = [
  ['OpossumBreaker', (config) => new OpossumBreaker(config)],
  ['TimestampBreaker', (config) => new TimestampBreaker(config)],
];

const small = {
  windowMs: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 3,
  consecutiveFailures: 5,
  resetTimeoutMs: 50,
};
// A 10 s window at 50 %: after 1,000 successes, the share rule alone would need 1,000 failures.
const busyConfig = {
  windowMs: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  consecutiveFailures: 3,
  resetTimeoutMs: 5_000,
};

const call = (charge: Charge) =>
  [() => Promise.resolve(charge), (result: Charge) => result] as const;
const ok = call('success');
const timeout = call('link');
const excused = call('excused');
const serverError = call('other');
const fail = () => Promise.reject(new Error('down'));

describe.each(engines)('%s keeps the breaker contract', (_name, make) => {
  let breaker: IBreaker;
  afterEach(() => {
    breaker.dispose();
    vi.useRealTimers();
  });

  const charge = (c: readonly [() => Promise<Charge>, (r: Charge) => Charge]) =>
    breaker.execute(...c).catch(() => {});
  const halfOpen = async () => {
    breaker.trip('probe');
    await expect.poll(() => breaker.state, { timeout: 2_000, interval: 10 }).toBe('half-open');
  };

  it('opens after enough failures and then rejects without calling', async () => {
    breaker = make(small);
    const transitions: BreakerTransition[] = [];
    breaker.onStateChange((t) => transitions.push(t));
    await breaker.execute(fail).catch(() => {});
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(breaker.isAvailable).toBe(false);
    let called = false;
    await expect(breaker.execute(async () => (called = true))).rejects.toBeInstanceOf(
      BreakerOpenError,
    );
    expect(called).toBe(false);
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual([
      ['closed', 'open', 'failures'],
    ]);
  });

  it('does not open while successes keep the failure share at or below the threshold', async () => {
    breaker = make(small);
    for (let i = 0; i < 5; i++) {
      await breaker.execute(...ok);
      await breaker.execute(fail).catch(() => {});
    }
    expect(breaker.state).toBe('closed');
  });

  it('counts an excused failure as a success in the share', async () => {
    breaker = make(small);
    for (let i = 0; i < 3; i++) await charge(excused);
    for (let i = 0; i < 3; i++) await charge(timeout);
    expect(breaker.state).toBe('closed'); // 3 of 6 failed: at the threshold, not above it
  });

  it('opens on a run of transport failures after a long run of successes, naming why', async () => {
    breaker = make(busyConfig);
    for (let i = 0; i < 1_000; i++) await breaker.execute(...ok);
    const reasons: string[] = [];
    breaker.onStateChange((t) => reasons.push(`${t.to}:${t.reason}`));
    await charge(timeout);
    await charge(timeout);
    expect(breaker.state).toBe('closed');
    await charge(timeout);
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['open:consecutive-failures']);
  });

  it('lets a success or an answer break the run, not an excused failure', async () => {
    breaker = make(busyConfig);
    for (let i = 0; i < 1_000; i++) await breaker.execute(...ok);
    for (const between of [ok, serverError]) {
      await charge(timeout);
      await charge(timeout);
      await charge(between);
      await charge(timeout);
      expect(breaker.state).toBe('closed');
      await breaker.execute(...ok);
    }
    await charge(timeout);
    await charge(excused);
    await charge(timeout);
    expect(breaker.state).toBe('closed');
    await charge(timeout);
    expect(breaker.state).toBe('open');
  });

  it('goes half-open after the reset timeout, admits one trial at a time and closes on its success', async () => {
    breaker = make(small);
    const transitions: string[] = [];
    breaker.onStateChange((t) => transitions.push(`${t.from}->${t.to}:${t.reason}`));
    await halfOpen();
    expect(breaker.isAvailable).toBe(true);
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

  it('restarts the reset timeout when tripped while open', async () => {
    vi.useFakeTimers(); // opossum's reset timer and both engines' clocks
    const resetTimeoutMs = 600;
    breaker = make({ ...small, resetTimeoutMs });
    const transitions: BreakerTransition[] = [];
    breaker.onStateChange((t) => transitions.push(t));
    breaker.trip('probe');
    await vi.advanceTimersByTimeAsync(resetTimeoutMs / 2);
    expect(breaker.state).toBe('open');
    const retrippedAt = Date.now();
    breaker.trip('probe');
    // Without the restart it would go half-open here, a full timeout after the first trip.
    await vi.advanceTimersByTimeAsync(resetTimeoutMs - 1);
    expect(breaker.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(breaker.state).toBe('half-open');
    expect(transitions.map((t) => `${t.from}->${t.to}:${t.reason}`)).toEqual([
      'closed->open:probe',
      'open->half-open:reset-timeout',
    ]);
    expect(transitions[1]!.at - retrippedAt).toBe(resetTimeoutMs);
  });

  it('re-opens when the half-open trial fails', async () => {
    breaker = make(small);
    await halfOpen();
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('takes a recorded call as the trial when half-open, and ignores one while open', async () => {
    vi.useFakeTimers();
    breaker = make(small);
    breaker.trip('probe');
    breaker.recordSuccess();
    breaker.recordFailure('link');
    // Lets the recorded calls settle (they run on promises) and runs the clock to just before the
    // reset timeout: neither closed nor restarted the open breaker.
    await vi.advanceTimersByTimeAsync(small.resetTimeoutMs - 1);
    expect(breaker.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(breaker.state).toBe('half-open');
    breaker.recordSuccess();
    await vi.advanceTimersByTimeAsync(0);
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 3; i++) breaker.recordFailure('link');
    await vi.advanceTimersByTimeAsync(0);
    expect(breaker.state).toBe('open');
  });

  it('holds an isolated breaker open until every handle is disposed', async () => {
    breaker = make(small);
    const first = breaker.isolate();
    const second = breaker.isolate();
    expect(breaker.state).toBe('isolated');
    await expect(breaker.execute(...ok)).rejects.toBeInstanceOf(BreakerOpenError);
    first.dispose();
    first.dispose();
    expect(breaker.state).toBe('isolated');
    second.dispose();
    expect(breaker.state).toBe('closed');
    expect(await breaker.execute(() => Promise.resolve('ok'))).toBe('ok');
  });

  it('names the reason of a forced transition', () => {
    breaker = make(small);
    const reasons: string[] = [];
    breaker.onStateChange((t) => reasons.push(`${t.to}:${t.reason}`));
    breaker.trip('peer-instance');
    breaker.reset('peer-instance-recovered');
    expect(reasons).toEqual(['open:peer-instance', 'closed:peer-instance-recovered']);
  });
});
