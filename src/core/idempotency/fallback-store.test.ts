import { describe, expect, it } from 'vitest';
import { FallbackIdempotencyStore } from './fallback-store.ts';
import { MemoryIdempotencyStore } from './memory-store.ts';
import type { ClaimResult, IdempotencyStore, StoredAnswer } from './store.ts';

const answer: StoredAnswer = {
  status: 201,
  headers: [['content-type', 'application/json']],
  bodyBase64: 'e30=',
};
const DAY = 86_400_000;

/** A shared store that can be taken away (every call throws, as the Redis store does) and emptied (FLUSHALL). */
class SharedStore implements IdempotencyStore {
  readonly kind = 'redis' as const;
  down = false;
  records = new MemoryIdempotencyStore();

  #reach(): MemoryIdempotencyStore {
    if (this.down) throw new Error('Command timed out');
    return this.records;
  }
  claim(key: string, fingerprint: string, claimTtlMs: number): Promise<ClaimResult> {
    return Promise.resolve().then(() => this.#reach().claim(key, fingerprint, claimTtlMs));
  }
  complete(key: string, token: string, stored: StoredAnswer, ttlMs: number): Promise<boolean> {
    return Promise.resolve().then(() => this.#reach().complete(key, token, stored, ttlMs));
  }
  release(key: string, token: string): Promise<boolean> {
    return Promise.resolve().then(() => this.#reach().release(key, token));
  }
}

function stores() {
  const shared = new SharedStore();
  const local = new MemoryIdempotencyStore();
  return { shared, local, store: new FallbackIdempotencyStore(shared, local) };
}

async function claimed(store: IdempotencyStore, key = 'k'): Promise<string> {
  const claim = await store.claim(key, 'fp', 5_000);
  if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
  return claim.token;
}

describe('FallbackIdempotencyStore', () => {
  it('with the shared store up, keeps records there and nothing here once completed', async () => {
    const { shared, local, store } = stores();
    expect(store.kind).toBe('redis');
    const token = await claimed(store);
    expect(await shared.records.claim('k', 'fp', 5_000)).toEqual({ kind: 'in_flight' });
    expect(await store.complete('k', token, answer, DAY)).toBe(true);
    expect(local.size).toBe(0);
    expect(await shared.records.claim('k', 'fp', 5_000)).toEqual({ kind: 'completed', answer });
    expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'completed', answer });
    // Another instance's claim in the shared store is honoured, and leaves nothing here.
    await shared.records.claim('other', 'fp', 5_000);
    expect(await store.claim('other', 'fp', 5_000)).toEqual({ kind: 'in_flight' });
    expect(await store.claim('other', 'fp2', 5_000)).toEqual({
      kind: 'mismatch',
      fingerprint: 'fp',
    });
    expect(local.size).toBe(0);
  });

  it('with the shared store down, claims and answers here: 409 while in flight, the replay after', async () => {
    const { shared, store } = stores();
    shared.down = true;
    const token = await claimed(store);
    expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'in_flight' });
    expect(await store.claim('k', 'fp2', 5_000)).toEqual({ kind: 'mismatch', fingerprint: 'fp' });
    expect(await store.complete('k', token, answer, DAY)).toBe(true);
    expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'completed', answer });
    // Back, and empty of this key: the answer kept here still replays.
    shared.down = false;
    expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'completed', answer });
  });

  it('a claim taken here while the shared store was down holds after it returns, and completes here', async () => {
    const { shared, store } = stores();
    shared.down = true;
    const token = await claimed(store);
    shared.down = false;
    expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'in_flight' });
    expect(await store.complete('k', token, answer, DAY)).toBe(true);
    expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'completed', answer });
  });

  it('a claim taken in the shared store that goes away (or loses it) mid-flight holds here, and its answer is kept here', async () => {
    for (const loss of ['down', 'flushed'] as const) {
      const { shared, store } = stores();
      const token = await claimed(store);
      if (loss === 'down') shared.down = true;
      else shared.records = new MemoryIdempotencyStore();
      expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'in_flight' });
      expect(await store.complete('k', token, answer, DAY)).toBe(true);
      shared.down = false;
      expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'completed', answer });
    }
  });

  it('release frees the key in both, and here even when the shared store is down', async () => {
    const { shared, local, store } = stores();
    await store.release('k', await claimed(store));
    expect(local.size).toBe(0);
    expect(await shared.records.claim('k', 'fp', 5_000)).toMatchObject({ kind: 'claimed' });

    const token = await claimed(store, 'k2');
    shared.down = true;
    await expect(store.release('k2', token)).rejects.toThrow('Command timed out');
    expect(local.size).toBe(0);
    expect(await store.claim('k2', 'fp', 5_000)).toMatchObject({ kind: 'claimed' });
  });

  it('never completes or releases with a token that is not the claim’s', async () => {
    const { store } = stores();
    await claimed(store);
    expect(await store.complete('k', 'not-mine', answer, DAY)).toBe(false);
    expect(await store.release('k', 'not-mine')).toBe(false);
    expect(await store.claim('k', 'fp', 5_000)).toEqual({ kind: 'in_flight' });
  });
});
