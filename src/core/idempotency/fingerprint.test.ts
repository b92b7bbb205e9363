import { describe, expect, it } from 'vitest';
import { requestFingerprint } from './fingerprint.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('requestFingerprint', () => {
  it('is the same for equal JSON whatever the key order and whitespace', async () => {
    const a = await requestFingerprint('POST', 'payments', 'application/json', bytes('{"a":1,"b":{"d":[1,2],"c":"x"}}'));
    const b = await requestFingerprint('POST', 'payments', 'application/json; charset=utf-8', bytes('{ "b": {"c":"x", "d":[1, 2]}, "a": 1 }'));
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs by method, route, body and array order', async () => {
    const base = await requestFingerprint('POST', 'payments', 'application/json', bytes('{"a":[1,2]}'));
    expect(await requestFingerprint('PUT', 'payments', 'application/json', bytes('{"a":[1,2]}'))).not.toBe(base);
    expect(await requestFingerprint('POST', 'refunds', 'application/json', bytes('{"a":[1,2]}'))).not.toBe(base);
    expect(await requestFingerprint('POST', 'payments', 'application/json', bytes('{"a":[2,1]}'))).not.toBe(base);
  });

  it('takes non-JSON bodies byte for byte', async () => {
    const a = await requestFingerprint('POST', 'billing', 'text/csv', bytes('a,b\n1,2'));
    const b = await requestFingerprint('POST', 'billing', 'text/csv', bytes('a,b\n1,2 '));
    expect(a).not.toBe(b);
    expect(await requestFingerprint('POST', 'billing', null, null)).toMatch(/^[0-9a-f]{64}$/);
  });
});
