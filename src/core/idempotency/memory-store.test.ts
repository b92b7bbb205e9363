import { describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from './memory-store.ts';

const answer = { status: 201, headers: [['content-type', 'application/json']] as [string, string][], bodyBase64: 'e30=' };

describe('MemoryIdempotencyStore', () => {
  it('claims once, completes and releases only by the owner token', async () => {
    const store = new MemoryIdempotencyStore();
    const claim = await store.claim('k', 'fp', 1_000);
    if (claim.kind !== 'claimed') throw new Error('expected a claim');
    expect(await store.claim('k', 'fp', 1_000)).toEqual({ kind: 'in_flight' });
    expect(await store.claim('k', 'other', 1_000)).toEqual({ kind: 'mismatch' });
    expect(await store.release('k', 'not-mine')).toBe(false);
    expect(await store.complete('k', 'not-mine', answer, 86_400_000)).toBe(false);
    expect(await store.complete('k', claim.token, answer, 86_400_000)).toBe(true);
    expect(await store.claim('k', 'fp', 1_000)).toEqual({ kind: 'completed', answer });
    expect(await store.release('k', claim.token)).toBe(false);
  });

  it('lets a claim left by a crashed owner expire, and then refuses the late owner', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore({ now: () => now });
    const first = await store.claim('k', 'fp', 1_000);
    now = 1_001;
    const second = await store.claim('k', 'fp', 1_000);
    expect(second.kind).toBe('claimed');
    if (first.kind !== 'claimed') throw new Error('expected a claim');
    expect(await store.complete('k', first.token, answer, 86_400_000)).toBe(false);
    expect(await store.release('k', first.token)).toBe(false);
  });

  it('forgets completed answers after their retention', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore({ now: () => now });
    const claim = await store.claim('k', 'fp', 1_000);
    if (claim.kind !== 'claimed') throw new Error('expected a claim');
    await store.complete('k', claim.token, answer, 86_400_000);
    now = 86_400_000 - 1;
    expect((await store.claim('k', 'fp', 1_000)).kind).toBe('completed');
    now = 86_400_001;
    expect((await store.claim('k', 'fp', 1_000)).kind).toBe('claimed');
  });

  it('stays within maxEntries by dropping the oldest completed records, never an in-flight claim', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 3 });
    const inFlight = await store.claim('busy', 'fp', 60_000);
    expect(inFlight.kind).toBe('claimed');
    for (const key of ['a', 'b', 'c', 'd']) {
      const claim = await store.claim(key, 'fp', 60_000);
      if (claim.kind === 'claimed') await store.complete(key, claim.token, answer, 86_400_000);
    }
    expect(store.size).toBe(3);
    expect(await store.claim('busy', 'fp', 60_000)).toEqual({ kind: 'in_flight' });
    expect((await store.claim('d', 'fp', 60_000)).kind).toBe('completed');
    expect((await store.claim('a', 'fp', 60_000)).kind).toBe('claimed');
  });
});
