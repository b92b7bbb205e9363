import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BENCH_MERCHANT, signHeadersSync } from '../bench/sign.ts';
import { verifySignature } from '../src/http/middleware/merchant-auth/signature.ts';

// The benchmark's synchronous signer (node:crypto) and the gateway's verifier (Web Crypto) agree.
describe('benchmark request signing', () => {
  it('produces signatures the gateway accepts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 80 }),
        fc.stringMatching(/^\/[a-z0-9/]{0,20}$/),
        async (body, target) => {
          const headers = signHeadersSync(BENCH_MERCHANT, 'POST', target, body);
          const parts = {
            method: 'POST',
            target,
            timestamp: Number(headers['x-paypath-timestamp']),
            nonce: headers['x-paypath-nonce']!,
            body: new TextEncoder().encode(body),
          };
          expect(
            await verifySignature(BENCH_MERCHANT.secret, parts, headers['x-paypath-signature']!),
          ).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
