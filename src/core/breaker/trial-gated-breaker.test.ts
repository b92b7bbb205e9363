import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OpossumBreaker } from '../../adapters/node/opossum-breaker.ts';
import { PolicySchema } from '../policy/schema.ts';
import { TrialGatedBreaker } from './trial-gated-breaker.ts';

const config = PolicySchema.parse({
  version: 1,
  paths: [{ id: 'a', upstream: 'http://127.0.0.1:1' }],
  breaker: { resetTimeoutMs: 20 },
  routes: [{ id: 'r', match: { method: 'POST', path: '/' }, paths: ['a'] }],
}).breaker;

/** Trips the breaker and runs the clock through its reset timeout (fake timers). */
async function halfOpen(gated: TrialGatedBreaker): Promise<void> {
  gated.trip('test');
  await vi.advanceTimersByTimeAsync(config.resetTimeoutMs);
  expect(gated.state).toBe('half-open');
}

/** Lets the lock's answer be applied: runs pending promises, no time passes. */
const applied = () => vi.advanceTimersByTimeAsync(0);

describe('TrialGatedBreaker', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('admits the half-open trial only once this instance holds the lock', async () => {
    let grant!: (mine: boolean) => void;
    const gated = new TrialGatedBreaker(
      new OpossumBreaker(config),
      () => new Promise((resolve) => (grant = resolve)),
      60_000,
    );
    await halfOpen(gated);
    expect(gated.isAvailable).toBe(false); // lock asked for, not yet granted
    grant(true);
    await applied();
    expect(gated.isAvailable).toBe(true);
    await gated.execute(() => Promise.resolve('ok'));
    expect(gated.state).toBe('closed');
    gated.dispose();
  });

  it('keeps the path unavailable while another instance runs the trial, and applies its verdict', async () => {
    let asked = 0;
    const gated = new TrialGatedBreaker(
      new OpossumBreaker(config),
      () => (asked++, Promise.resolve(false)),
      60_000,
    );
    await halfOpen(gated);
    await applied();
    expect(asked).toBe(1);
    expect(gated.isAvailable).toBe(false);
    await expect(gated.execute(() => Promise.resolve('sent'))).rejects.toMatchObject({
      code: 'breaker_open',
    });
    // With no verdict from the other instance before its lock expires, this one asks again.
    await vi.advanceTimersByTimeAsync(60_000 - 1);
    expect(asked).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(asked).toBe(2);
    gated.reset('peer gw-2: trial-succeeded');
    expect(gated.isAvailable).toBe(true);
    gated.dispose();
  });

  it('runs the trial itself when the store cannot be reached', async () => {
    const gated = new TrialGatedBreaker(
      new OpossumBreaker(config),
      () => Promise.reject(new Error('redis down')),
      60_000,
    );
    await halfOpen(gated);
    await applied();
    expect(gated.isAvailable).toBe(true);
    gated.dispose();
  });
});
