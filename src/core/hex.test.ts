import { describe, expect, it } from 'vitest';
import { toHex } from './hex.ts';

describe('toHex', () => {
  it("writes two lowercase digits per byte, from a view's own bytes only", () => {
    expect(toHex(new Uint8Array([0, 1, 15, 16, 171, 255]))).toBe('00010f10abff');
    expect(toHex(new Uint8Array([9, 10, 11, 12]).subarray(1, 3))).toBe('0a0b');
    expect(toHex(new Uint8Array([222, 173]).buffer)).toBe('dead');
    expect(toHex(new Uint8Array(0))).toBe('');
  });
});
