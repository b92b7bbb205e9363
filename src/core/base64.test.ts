import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from './base64.ts';

describe('base64', () => {
  it('encodes only the bytes of a view, not the rest of its buffer', () => {
    const backing = new Uint8Array([0xff, 0x01, 0x02, 0x03, 0xff]);
    expect(encodeBase64(backing.subarray(1, 4))).toBe('AQID');
  });

  it('is standard padded base64 for every byte value and for answers longer than one encoding chunk', () => {
    const bytes = new Uint8Array(70_001).map((_, i) => (i * 7) % 256);
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    const text = encodeBase64(bytes);
    expect(text).toBe(btoa(binary));
    expect(decodeBase64(text)).toEqual(bytes);
    expect(encodeBase64(new Uint8Array(0))).toBe('');
  });
});
