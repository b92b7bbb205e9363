import { describe, expect, it } from 'vitest';
import { OpossumBreaker } from '../../adapters/node/opossum-breaker.ts';
import { PolicySchema } from '../policy/schema.ts';
import { TrialGatedBreaker } from './trial-gated-breaker.ts';

const config = PolicySchema.parse({
  version: 1,
  paths: [{ id: 'a', upstream: 'http://127.0.0.1:1' }],
  breaker: { resetTimeoutMs: 20 },
  routes: [{ id: 'r', match: { method: 'POST', path: '/' }, paths: ['a'] }],
}).breaker;

/** For waits on the lock's promise and the 20 ms reset timer. */
const POLL = { timeout: 2_000, interval: 5 };

async function halfOpen(gated: TrialGatedBreaker): Promise<void> {
  gated.trip('test');
  await expect.poll(() => gated.state, POLL).toBe('half-open');
}

describe('TrialGatedBreaker', () => {
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
    await expect.poll(() => gated.isAvailable, POLL).toBe(true);
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
    await expect.poll(() => asked, POLL).toBe(1);
    await Promise.resolve(); // the refusal is applied
    expect(gated.isAvailable).toBe(false);
    await expect(gated.execute(() => Promise.resolve('sent'))).rejects.toMatchObject({
      code: 'breaker_open',
    });
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
    await expect.poll(() => gated.isAvailable, POLL).toBe(true);
    gated.dispose();
  });
});
