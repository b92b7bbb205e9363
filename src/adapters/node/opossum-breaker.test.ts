import { afterEach, describe, expect, it } from 'vitest';
import { BreakerOpenError, type BreakerTransition } from '../../core/breaker/breaker.ts';
import { OpossumBreaker } from './opossum-breaker.ts';

const config = { windowMs: 10_000, errorThresholdPercentage: 50, volumeThreshold: 3, consecutiveFailures: 5, resetTimeoutMs: 100 };
const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('ok');

let breaker: OpossumBreaker;
afterEach(() => breaker.dispose());

describe('OpossumBreaker', () => {
  it('opens after enough failures and then rejects without calling', async () => {
    breaker = new OpossumBreaker(config);
    const transitions: BreakerTransition[] = [];
    breaker.onStateChange((t) => transitions.push(t));
    for (let i = 0; i < 3; i++) await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(breaker.isAvailable).toBe(false);
    let called = false;
    await expect(breaker.execute(async () => (called = true))).rejects.toBeInstanceOf(BreakerOpenError);
    expect(called).toBe(false);
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual([['closed', 'open', 'failures']]);
  });

  it('lets one trial through after the reset timeout and closes on its success', async () => {
    breaker = new OpossumBreaker(config);
    breaker.trip('probe');
    expect(breaker.state).toBe('open');
    await expect.poll(() => breaker.state, { timeout: 2_000, interval: 20 }).toBe('half-open');
    expect(breaker.isAvailable).toBe(true);
    expect(await breaker.execute(ok)).toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('holds an isolated breaker open until every handle is disposed', async () => {
    breaker = new OpossumBreaker(config);
    const first = breaker.isolate();
    const second = breaker.isolate();
    expect(breaker.state).toBe('isolated');
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BreakerOpenError);
    first.dispose();
    first.dispose();
    expect(breaker.state).toBe('isolated');
    second.dispose();
    expect(breaker.state).toBe('closed');
    expect(await breaker.execute(ok)).toBe('ok');
  });

  it('names the reason of a forced transition', () => {
    breaker = new OpossumBreaker(config);
    const reasons: string[] = [];
    breaker.onStateChange((t) => reasons.push(`${t.to}:${t.reason}`));
    breaker.trip('peer-instance');
    breaker.reset('peer-instance-recovered');
    expect(reasons).toEqual(['open:peer-instance', 'closed:peer-instance-recovered']);
  });
});
