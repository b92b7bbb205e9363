import { describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from './memory-store.ts';

const answer = {
  status: 201,
  headers: [['content-type', 'application/json']] as [string, string][],
  bodyBase64: 'e30=',
};

describe('MemoryIdempotencyStore', () => {
  it('claims once, completes and releases only by the owner token', async () => {
    const store = new MemoryIdempotencyStore();
    const claim = await store.claim('k', 'fp', 1_000);
    if (claim.kind !== 'claimed') throw new Error('expected a claim');
    expect(await store.claim('k', 'fp', 1_000)).toEqual({ kind: 'in_flight' });
    expect(await store.claim('k', 'other', 1_000)).toEqual({ kind: 'mismatch', fingerprint: 'fp' });
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

describe('MemoryIdempotencyStore byte bound', () => {
  const big = {
    status: 201,
    headers: [['content-type', 'application/json']] as [string, string][],
    bodyBase64: 'x'.repeat(1_000),
  };

  it('stays within maxBytes by dropping the oldest completed records, never an in-flight claim', async () => {
    const reported: number[] = [];
    const store = new MemoryIdempotencyStore({
      maxBytes: 4_000,
      maxRecordBytes: 4_000,
      onDroppedEarly: (dropped) => reported.push(dropped),
    });
    const busy = await store.claim('busy', 'fp', 60_000);
    expect(busy.kind).toBe('claimed');
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      const claim = await store.claim(key, 'fp', 60_000);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      expect(await store.complete(key, claim.token, big, 86_400_000)).toBe(true);
      expect(store.bytes).toBeLessThanOrEqual(4_000);
    }
    expect(await store.claim('busy', 'fp', 60_000)).toEqual({ kind: 'in_flight' });
    expect((await store.claim('e', 'fp', 60_000)).kind).toBe('completed');
    expect((await store.claim('a', 'fp', 60_000)).kind).toBe('claimed');
    // 'a', 'b' and more went long before their day-long TTL, and the owner was told each time.
    expect(store.droppedBeforeExpiry).toBeGreaterThanOrEqual(2);
    expect(reported.at(-1)).toBe(store.droppedBeforeExpiry);
  });

  it('does not count expired records it drops as dropped early', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore({ maxEntries: 1, now: () => now });
    for (const key of ['a', 'b']) {
      const claim = await store.claim(key, 'fp', 60_000);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      await store.complete(key, claim.token, big, 1_000);
      now += 2_000; // past the TTL before the next record pushes it out
    }
    expect(store.droppedBeforeExpiry).toBe(0);
  });

  it('keeps every in-flight claim even past maxBytes, and counts bytes back down as records go', async () => {
    const store = new MemoryIdempotencyStore({ maxBytes: 1 });
    const tokens = new Map<string, string>();
    for (const key of ['a', 'b', 'c']) {
      const claim = await store.claim(key, 'fp', 60_000);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      tokens.set(key, claim.token);
    }
    expect(store.size).toBe(3);
    for (const key of ['a', 'b', 'c'])
      expect(await store.claim(key, 'fp', 60_000)).toEqual({ kind: 'in_flight' });
    expect(await store.release('a', tokens.get('a')!)).toBe(true);
    expect(await store.release('b', tokens.get('b')!)).toBe(true);
    expect(await store.complete('c', tokens.get('c')!, big, 86_400_000)).toBe(true);
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
  });

  it('estimates a typical payment answer at several hundred bytes, so the default keeps tens of thousands', async () => {
    const store = new MemoryIdempotencyStore();
    const claim = await store.claim('k-ovh-paypath-1795755789038-123', 'f'.repeat(64), 10_000);
    if (claim.kind !== 'claimed') throw new Error('expected a claim');
    const body = btoa(
      JSON.stringify({
        id: `ch_${crypto.randomUUID()}`,
        status: 'succeeded',
        amount: 4500,
        reference: 'ovh-paypath-123',
      }),
    );
    await store.complete(
      'k-ovh-paypath-1795755789038-123',
      claim.token,
      {
        status: 201,
        headers: [
          ['content-type', 'application/json'],
          ['idempotency-key', 'k-ovh-paypath-1795755789038-123'],
        ],
        bodyBase64: body,
      },
      86_400_000,
    );
    expect(store.bytes).toBeGreaterThan(500);
    expect(store.bytes).toBeLessThan(800);
  });

  it('refuses a record larger than a sixteenth of maxBytes: keeps only its outcome and drops no other record', async () => {
    const store = new MemoryIdempotencyStore({ maxBytes: 64_000 });
    const small = {
      status: 201,
      headers: [['content-type', 'application/json']] as [string, string][],
      bodyBase64: 'x'.repeat(500),
    };
    for (let i = 0; i < 11; i++) {
      const claim = await store.claim(`k${i}`, 'fp', 60_000);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      await store.complete(`k${i}`, claim.token, small, 86_400_000);
    }
    const claim = await store.claim('huge', 'fp', 60_000);
    if (claim.kind !== 'claimed') throw new Error('expected a claim');
    // 70 KB of base64: more than the whole store, as the 70 MB answer was against the default 64 MiB.
    expect(
      await store.complete(
        'huge',
        claim.token,
        { ...small, bodyBase64: 'y'.repeat(70_000) },
        86_400_000,
      ),
    ).toBe(true);
    expect(store.droppedBeforeExpiry).toBe(0);
    expect(store.size).toBe(12);
    for (let i = 0; i < 11; i++)
      expect(await store.claim(`k${i}`, 'fp', 60_000)).toEqual({
        kind: 'completed',
        answer: small,
      });
    expect(await store.claim('huge', 'fp', 60_000)).toEqual({
      kind: 'completed',
      answer: { status: 201, headers: [], bodyBase64: '', notKept: 'too_large' },
    });
    expect(store.bytes).toBeLessThan(64_000 / 4);
    // What the middleware is told to keep at most fits in one record's share.
    expect(store.maxAnswerBytes).toBeGreaterThan(0);
    expect((store.maxAnswerBytes * 4) / 3).toBeLessThan(64_000 / 16);
  });
});
