import { describe, expect, it } from 'vitest';
import { PAN_REPLACEMENT, scrubCardNumbers, scrubDeep } from './redact.ts';

describe('card number scrubbing', () => {
  it('replaces Luhn-valid card numbers, plain or grouped, and leaves other numbers alone', () => {
    expect(scrubCardNumbers('pan 4111111111111111 end')).toBe(`pan ${PAN_REPLACEMENT} end`);
    expect(scrubCardNumbers('4111 1111 1111 1111')).toBe(PAN_REPLACEMENT);
    expect(scrubCardNumbers('5500-0000-0000-0004')).toBe(PAN_REPLACEMENT);
    // Not Luhn-valid: an order number or a timestamp stays readable.
    expect(scrubCardNumbers('order 4111111111111112')).toBe('order 4111111111111112');
    expect(scrubCardNumbers('1764200000000')).toBe('1764200000000');
  });

  it('walks objects and arrays', () => {
    expect(scrubDeep({ a: ['x 4111111111111111'], b: { c: 4111111111111111 } })).toEqual({ a: [`x ${PAN_REPLACEMENT}`], b: { c: 4111111111111111 } });
  });
});
