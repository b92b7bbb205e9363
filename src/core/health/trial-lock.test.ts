import { describe, expect, it } from 'vitest';
import { InMemoryHealthStore } from './health-store.ts';
import { TrialLock } from './trial-lock.ts';

/** A store that records the trial locks it was asked for. */
class RecordingStore extends InMemoryHealthStore {
  readonly asked: [string, string, number][] = [];
  override acquireTrial(pathId?: string, instanceId?: string, ttlMs?: number): Promise<boolean> {
    this.asked.push([pathId!, instanceId!, ttlMs!]);
    return Promise.resolve(true);
  }
}

describe('TrialLock', () => {
  it.each([
    [{ intervalMs: 1_000, timeoutMs: 500 }, 2_000],
    [{ intervalMs: 1_000, timeoutMs: 3_000 }, 6_000],
    [{ intervalMs: 200, timeoutMs: 100 }, 1_000],
  ])(
    'expires after twice the longer of probe interval and timeout, at least 1 s (%o)',
    (probe, ms) => {
      expect(new TrialLock(new InMemoryHealthStore(), 'gw-a', probe).ms).toBe(ms);
    },
  );

  it('asks the store for the path under this instance, with its one expiry', async () => {
    const store = new RecordingStore();
    const lock = new TrialLock(store, 'gw-a', { intervalMs: 1_000, timeoutMs: 500 });
    expect(await lock.acquire('kt-fiber')).toBe(true);
    expect(store.asked).toEqual([['kt-fiber', 'gw-a', 2_000]]);
  });
});
