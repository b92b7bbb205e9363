import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signRequest, verifySignature, type SignedParts } from './signature.ts';

// Property-based fuzzing of the signature verifier: a signature verifies only for exactly the
// request and secret it was made for, and no input makes the verifier throw.

const partsArb: fc.Arbitrary<SignedParts> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
  target: fc.string({ maxLength: 40 }).map((s) => `/${s}`),
  timestamp: fc.integer({ min: 0, max: 4_000_000_000 }),
  nonce: fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/),
  body: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
});
const secretArb = fc.string({ minLength: 32, maxLength: 64 });

describe('signature verifier fuzzing', () => {
  it('accepts the signature made for the same request and secret', async () => {
    await fc.assert(
      fc.asyncProperty(partsArb, secretArb, async (parts, secret) => {
        expect(await verifySignature(secret, parts, await signRequest(secret, parts))).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('refuses it after any change to method, path, timestamp, nonce, body or secret', async () => {
    const change = fc.constantFrom('method', 'target', 'timestamp', 'nonce', 'body', 'secret');
    await fc.assert(
      fc.asyncProperty(partsArb, secretArb, change, async (parts, secret, which) => {
        const signature = await signRequest(secret, parts);
        const changed = { ...parts };
        let otherSecret = secret;
        if (which === 'method') changed.method = parts.method === 'POST' ? 'PUT' : 'POST';
        if (which === 'target') changed.target = `${parts.target}x`;
        if (which === 'timestamp') changed.timestamp = parts.timestamp + 1;
        if (which === 'nonce') changed.nonce = `${parts.nonce}x`;
        if (which === 'body')
          changed.body =
            parts.body === null || parts.body.length === 0
              ? new Uint8Array([0])
              : parts.body.map((b, i) => (i === 0 ? b ^ 1 : b));
        if (which === 'secret') otherSecret = `${secret}x`;
        expect(await verifySignature(otherSecret, changed, signature)).toBe(false);
      }),
      { numRuns: 1_000 },
    );
  });

  it('never throws on arbitrary signature headers and accepts none of them', async () => {
    await fc.assert(
      fc.asyncProperty(
        partsArb,
        secretArb,
        fc.string({ maxLength: 200 }),
        async (parts, secret, header) => {
          const real = await signRequest(secret, parts);
          expect(await verifySignature(secret, parts, header)).toBe(header === real);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
