import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BASE_POLICY, fakeUpstreamApp } from '../../test/support/fake-upstream-app.ts';
import { policyFrom } from '../../test/support/policy.ts';
import { signedHeaders } from './middleware/merchant-auth/signature.ts';

// Property-based fuzzing of the request path (createApp with a fake transport): any method, path,
// headers and body gets an answer; whatever paypath itself rejects is a clean 4xx with a JSON
// error code, never a 5xx and never an exception.

const SECRET = 's'.repeat(40);
const policy =
  policyFrom(`${BASE_POLICY.replace('    idempotency: { upstreamHonors: true }', `    idempotency: { upstreamHonors: true }\n    maxBodyBytes: 2048\n    contentTypes: [application/json]`)}
merchants:
  keys: { env: TEST_KEYS }
  rateLimit: { ratePerSecond: 1000000, burst: 1000000 }
  failedAuth: { ratePerSecond: 1000000, burst: 1000000 }
limits: { maxJsonDepth: 8, maxHeaderBytes: 4096 }
`);
const app = fakeUpstreamApp(policy, { merchantKeys: () => new Map([['shop-1', SECRET]]) });
afterAll(() => app.close());

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/).map((v) => v.trim());
const pathArb = fc.oneof(
  fc.constantFrom(
    '/v1/payments',
    '/v1/payments/ch_1',
    '/healthz',
    '/status',
    '/readyz',
    '/',
    '/v1/refunds',
  ),
  fc
    .array(fc.stringMatching(/^[A-Za-z0-9._~%-]{0,12}$/), { maxLength: 5 })
    .map((parts) => `/${parts.join('/')}`),
);
const jsonish = fc.oneof(
  fc.json({ maxDepth: 12 }),
  fc.integer({ min: 1, max: 40 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 40 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.string({ maxLength: 300 }),
  fc.integer({ min: 2000, max: 3000 }).map((n) => 'x'.repeat(n)),
);

const requestArb = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constant('POST'), weight: 6 },
    fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  ),
  path: fc.oneof({ arbitrary: fc.constant('/v1/payments'), weight: 4 }, pathArb),
  query: fc.option(fc.stringMatching(/^[a-z0-9=&]{0,20}$/), { nil: undefined }),
  contentType: fc.option(
    fc.constantFrom(
      'application/json',
      'text/plain',
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded',
      'garbage',
    ),
    { nil: undefined },
  ),
  headers: fc.dictionary(token, headerValue, { maxKeys: 6 }),
  authHeaders: fc.dictionary(
    fc.constantFrom(
      'x-paypath-merchant',
      'x-paypath-timestamp',
      'x-paypath-nonce',
      'x-paypath-signature',
      'x-paypath-api-key',
      'idempotency-key',
    ),
    headerValue,
    { maxKeys: 4 },
  ),
  bigHeader: fc.boolean(),
  sign: fc.constantFrom('no', 'yes', 'yes', 'wrong-key', 'expired'),
  body: fc.option(jsonish, { nil: undefined }),
});

type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

/** The status each error code reachable here is answered with (the README's table). */
const STATUS_OF_CODE: Record<string, number> = {
  route_not_found: 404,
  body_too_large: 413,
  invalid_request: 400,
  idempotency_key_invalid: 400,
  idempotency_key_in_use: 409,
  idempotency_key_reused: 422,
  auth_required: 401,
  auth_malformed: 401,
  signature_invalid: 401,
  signature_expired: 401,
  nonce_replayed: 401,
  auth_rate_limited: 429,
  rate_limited: 429,
  unsupported_media_type: 415,
  json_too_deep: 400,
  headers_too_large: 431,
};

describe('request path fuzzing', () => {
  it('answers every request; paypath rejections are clean 4xx JSON errors', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const target = r.path + (r.query ? `?${r.query}` : '');
        const hasBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
        const headers: Record<string, string> = { ...r.headers, ...r.authHeaders };
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.bigHeader) headers['x-padding'] = 'p'.repeat(5000);
        if (r.sign !== 'no') {
          const request = { method: r.method, target, body: hasBody ? r.body! : null };
          const options =
            r.sign === 'expired' ? { timestamp: Math.floor(Date.now() / 1000) - 3_600 } : {};
          Object.assign(
            headers,
            await signedHeaders(
              'shop-1',
              r.sign === 'wrong-key' ? SECRET.toUpperCase() : SECRET,
              request,
              options,
            ),
          );
        }
        const response = await app.app.request(target, {
          method: r.method,
          headers,
          body: hasBody ? r.body : undefined,
        });
        // Success is the upstream's 201 or one of paypath's own endpoints' 200; anything else is a
        // rejection whose status is exactly the one its code stands for.
        if (response.status < 400) expect([200, 201]).toContain(response.status);
        else if (r.method === 'HEAD')
          expect(Object.values(STATUS_OF_CODE)).toContain(response.status);
        if (response.status >= 400 && r.method !== 'HEAD') {
          const json = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
          expect(typeof json.error?.code).toBe('string');
          expect(typeof json.error?.message).toBe('string');
          expect({ code: json.error?.code, status: response.status }).toEqual({
            code: json.error?.code,
            status: STATUS_OF_CODE[String(json.error?.code)],
          });
          seen.add(String(json.error?.code));
        } else {
          seen.add(String(response.status));
          await response.body?.cancel();
        }
      }),
      {
        numRuns: 1_500,
        // Seeds that reach every kind of answer whatever the random seed is; the run adds 1500 more.
        examples: (
          [
            ['yes', '{"amount":1}', false],
            ['yes', 'x'.repeat(2100), false],
            ['yes', '['.repeat(20) + ']'.repeat(20), false],
            ['expired', '{}', false],
            ['yes', '{}', true],
          ] as const
        ).map(([sign, body, bigHeader]): [FuzzRequest] => [
          {
            method: 'POST',
            path: '/v1/payments',
            query: undefined,
            contentType: 'application/json',
            headers: {},
            authHeaders: {},
            bigHeader,
            sign,
            body,
          },
        ]),
      },
    );
    // The generator reaches every kind of answer, including signed requests that pass.
    for (const expected of [
      '201',
      'auth_required',
      'signature_invalid',
      'signature_expired',
      'route_not_found',
      'headers_too_large',
      'unsupported_media_type',
      'json_too_deep',
      'body_too_large',
    ]) {
      expect(seen).toContain(expected);
    }
  });

  it('never lets an unsigned or badly signed request reach the upstream', async () => {
    const before = app.forwarded.length;
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const headers: Record<string, string> = {
          ...r.headers,
          ...r.authHeaders,
          'content-type': 'application/json',
        };
        const response = await app.app.request('/v1/payments', {
          method: 'POST',
          headers,
          body: '{"amount":1}',
        });
        const json = (await response.json()) as { error: { code: string } };
        // Refused before the proxy: an authentication failure, or a header limit checked before it.
        expect([
          'auth_required',
          'auth_malformed',
          'signature_invalid',
          'signature_expired',
          'nonce_replayed',
          'auth_rate_limited',
          'headers_too_large',
          'invalid_request',
        ]).toContain(json.error.code);
        expect(response.status).toBe(STATUS_OF_CODE[json.error.code]);
      }),
      { numRuns: 1_000 },
    );
    expect(app.forwarded.length).toBe(before);
  });
});
