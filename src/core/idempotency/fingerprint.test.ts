import { describe, expect, it } from 'vitest';
import {
  isLegacyFingerprint,
  legacyRequestFingerprint,
  requestFingerprint,
  type FingerprintedRequest,
} from './fingerprint.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const request = (overrides: Partial<FingerprintedRequest> = {}): FingerprintedRequest => ({
  method: 'POST',
  target: '/v1/payments',
  contentType: 'application/json',
  body: bytes('{"a":[1,2]}'),
  ...overrides,
});

describe('requestFingerprint', () => {
  it('is the same for equal JSON whatever the key order and whitespace', async () => {
    const a = await requestFingerprint(request({ body: bytes('{"a":1,"b":{"d":[1,2],"c":"x"}}') }));
    const b = await requestFingerprint(
      request({
        contentType: 'application/json; charset=utf-8',
        body: bytes('{ "b": {"c":"x", "d":[1, 2]}, "a": 1 }'),
      }),
    );
    expect(a).toBe(b);
    expect(a).toMatch(/^v2:[0-9a-f]{64}$/);
  });

  it('differs by method, path, query, body and array order', async () => {
    const base = await requestFingerprint(request());
    expect(await requestFingerprint(request({ method: 'PUT' }))).not.toBe(base);
    expect(await requestFingerprint(request({ target: '/v1/payments/ch_A/capture' }))).not.toBe(
      await requestFingerprint(request({ target: '/v1/payments/ch_B/capture' })),
    );
    expect(await requestFingerprint(request({ target: '/v1/payments?capture=false' }))).not.toBe(
      base,
    );
    expect(await requestFingerprint(request({ body: bytes('{"a":[2,1]}') }))).not.toBe(base);
  });

  it('takes non-JSON bodies byte for byte', async () => {
    const a = await requestFingerprint(
      request({ contentType: 'text/csv', body: bytes('a,b\n1,2') }),
    );
    const b = await requestFingerprint(
      request({ contentType: 'text/csv', body: bytes('a,b\n1,2 ') }),
    );
    expect(a).not.toBe(b);
    expect(await requestFingerprint(request({ contentType: null, body: null }))).toMatch(
      /^v2:[0-9a-f]{64}$/,
    );
  });

  it('tells the fingerprints of earlier versions (method, route and body only) from its own', async () => {
    const legacy = await legacyRequestFingerprint(
      'POST',
      'payments',
      'application/json',
      bytes('{"a":[1,2]}'),
    );
    expect(legacy).toMatch(/^[0-9a-f]{64}$/);
    expect(isLegacyFingerprint(legacy)).toBe(true);
    expect(isLegacyFingerprint(await requestFingerprint(request()))).toBe(false);
    expect(
      await legacyRequestFingerprint('POST', 'refunds', 'application/json', bytes('{"a":[1,2]}')),
    ).not.toBe(legacy);
  });
});
