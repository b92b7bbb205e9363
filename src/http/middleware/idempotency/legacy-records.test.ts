import { describe, expect, it } from 'vitest';
import { legacyRequestFingerprint } from '../../../core/idempotency/fingerprint.ts';
import { MemoryIdempotencyStore } from '../../../core/idempotency/memory-store.ts';
import { charge, idempotencyApp as setup } from '../../../../test/support/idempotency-app.ts';

describe('idempotency middleware', () => {
  describe('a record stored by an earlier version (fingerprint of method, route and body only)', () => {
    const body = '{"amount":100}';
    async function storeWithLegacyRecord(
      key: string,
      recordedBody: string,
    ): Promise<MemoryIdempotencyStore> {
      const store = new MemoryIdempotencyStore();
      const fingerprint = await legacyRequestFingerprint(
        'POST',
        'payments',
        'application/json',
        new TextEncoder().encode(recordedBody),
      );
      const claim = await store.claim(key, fingerprint, 5_000);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      const answer = {
        status: 201,
        headers: [['content-type', 'application/json']] as [string, string][],
        bodyBase64: btoa('{"id":"ch_old"}'),
      };
      await store.complete(key, claim.token, answer, 86_400_000);
      return store;
    }

    it('is never replayed: the processor, which de-duplicates by key, is asked instead', async () => {
      const { pay, sent } = setup({
        upstream: charge,
        store: await storeWithLegacyRecord('k-old', body),
        idempotency: { upstreamHonors: true },
      });
      const response = await pay('k-old', body);
      expect(response.status).toBe(201);
      expect(response.headers.get('idempotent-replayed')).toBeNull();
      expect(await response.text()).not.toContain('ch_old');
      expect(sent.map((s) => s.key)).toEqual(['k-old']);
    });

    it("answers 422 recorded_before_upgrade, sending nothing, when the request has a query (the original's was not recorded)", async () => {
      const { app, sent } = setup({
        upstream: charge,
        store: await storeWithLegacyRecord('k-old', body),
        idempotency: { upstreamHonors: true },
      });
      const response = await app.request('/v1/payments?capture=false', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k-old' },
        body,
      });
      expect(response.status).toBe(422);
      expect(((await response.json()) as { error: { reason?: string } }).error.reason).toBe(
        'recorded_before_upgrade',
      );
      expect(sent).toHaveLength(0);
    });

    it('answers 422 recorded_before_upgrade, sending nothing, where the processor does not de-duplicate', async () => {
      const { pay, sent } = setup({
        upstream: charge,
        store: await storeWithLegacyRecord('k-old', body),
        idempotency: { upstreamHonors: false },
      });
      const response = await pay('k-old', body);
      expect(response.status).toBe(422);
      const error = ((await response.json()) as { error: { code: string; reason?: string } }).error;
      expect(error).toMatchObject({
        code: 'idempotency_key_reused',
        reason: 'recorded_before_upgrade',
      });
      expect(sent).toHaveLength(0);
    });

    it('answers the plain 422 to a request that certainly differs (another body)', async () => {
      const { pay, sent } = setup({
        upstream: charge,
        store: await storeWithLegacyRecord('k-old', '{"amount":999}'),
        idempotency: { upstreamHonors: true },
      });
      const response = await pay('k-old', body);
      expect(response.status).toBe(422);
      const error = ((await response.json()) as { error: { code: string; reason?: string } }).error;
      expect(error.code).toBe('idempotency_key_reused');
      expect(error.reason).toBeUndefined();
      expect(sent).toHaveLength(0);
    });
  });
});
