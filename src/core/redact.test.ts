import { describe, expect, it } from 'vitest';
import {
  cardNumberForms,
  exposesCardNumber,
  TEST_CARD_NUMBERS,
} from '../../test/support/card-data.ts';
import {
  FIELD_REPLACEMENT,
  PAN_REPLACEMENT,
  scrubCardNumbers,
  scrubDeep,
  scrubSecurityCodes,
  scrubText,
} from './redact.ts';

describe('card number scrubbing', () => {
  it('replaces Luhn-valid card numbers, plain or grouped, and leaves other numbers alone', () => {
    expect(scrubCardNumbers('pan 4111111111111111 end')).toBe(`pan ${PAN_REPLACEMENT} end`);
    expect(scrubCardNumbers('4111 1111 1111 1111')).toBe(PAN_REPLACEMENT);
    expect(scrubCardNumbers('5500-0000-0000-0004')).toBe(PAN_REPLACEMENT);
    // Not Luhn-valid: an order number or a timestamp stays readable.
    expect(scrubCardNumbers('order 4111111111111112')).toBe('order 4111111111111112');
    expect(scrubCardNumbers('1764200000000')).toBe('1764200000000');
  });

  it('finds every test card number in every spacing and encoding', () => {
    const missed: string[] = [];
    for (const pan of TEST_CARD_NUMBERS) {
      for (const [form, text] of Object.entries(cardNumberForms(pan))) {
        const scrubbed = scrubText(text);
        if (exposesCardNumber(scrubbed, pan) || !scrubbed.includes(PAN_REPLACEMENT))
          missed.push(`${pan} ${form}: ${JSON.stringify(text)} -> ${JSON.stringify(scrubbed)}`);
      }
    }
    expect(missed).toEqual([]);
  });

  it('masks the card number beside another number, not the other number', () => {
    // A log message "GET /v1/cards/<pan> 404 http_404": the status and error code stay readable.
    expect(scrubText('GET /v1/cards/4111111111111111 404 http_404')).toBe(
      `GET /v1/cards/${PAN_REPLACEMENT} 404 http_404`,
    );
    expect(scrubText('4111%201111%201111%201111')).toBe(PAN_REPLACEMENT);
    expect(scrubText('amount=1999&card=4111+1111+1111+1111&ts=1764200000000')).toBe(
      `amount=1999&card=${PAN_REPLACEMENT}&ts=1764200000000`,
    );
  });

  it('leaves numbers that fail Luhn or are not 13-19 digits as they are', () => {
    for (const text of [
      'amount 1999 currency 410',
      'at 1764200000000 (ms), 1764200000 (s)',
      '1764200000000 404', // 13 + 3 digits: neither the timestamp nor both together pass Luhn
      'order 4111111111111112',
      '4111 1111 1111 1112',
      '411111111111', // 12 digits
      '41111111111111111111', // 20 digits in one piece: not a card number
      'request 7c9e6679-7425-40de-944b-e07fc1f90ae7',
      '2026-12-03T09:10:07.123Z',
      'status 503, 3 attempts, 1500 ms',
    ]) {
      expect(scrubText(text), text).toBe(text);
    }
  });

  it('replaces card security codes written after their name', () => {
    expect(scrubSecurityCodes('{"number":"x","cvc":"123","exp":"12/30"}')).toBe(
      `{"number":"x","cvc":"${FIELD_REPLACEMENT}","exp":"12/30"}`,
    );
    expect(scrubSecurityCodes('{"cvv": 1234}')).toBe(`{"cvv": ${FIELD_REPLACEMENT}}`);
    expect(scrubSecurityCodes('card[cvc]=123&amount=1999')).toBe(
      `card[cvc]=${FIELD_REPLACEMENT}&amount=1999`,
    );
    expect(scrubSecurityCodes('card%5Bcvc%5D=123')).toBe(`card%5Bcvc%5D=${FIELD_REPLACEMENT}`);
    expect(scrubSecurityCodes('%22security_code%22%3A%22987%22')).toBe(
      `%22security_code%22%3A%22${FIELD_REPLACEMENT}%22`,
    );
    expect(scrubSecurityCodes('{\\"CVV2\\":\\"321\\"}')).toBe(
      `{\\"CVV2\\":\\"${FIELD_REPLACEMENT}\\"}`,
    );
    // Not a security code: other words, other numbers.
    expect(scrubSecurityCodes('acid=123 cidr=10 amount=123')).toBe('acid=123 cidr=10 amount=123');
  });

  it('walks records: strings, field names, whole numbers, and fields named like card data at any depth', () => {
    const record = {
      a: ['x 4111111111111111'],
      b: { c: 4111111111111111, amount: 1999, at: 1764200000000 },
      '4111111111111111': 'a card number as a field name',
      deep: {
        deeper: { card: { cvc: '123', security_code: 987, Authorization: 'Bearer sk_live_x' } },
      },
      err: new Error('declined 4111 1111 1111 1111'),
    };
    const scrubbed = scrubDeep(record) as Record<string, unknown>;
    expect(scrubbed).toEqual({
      a: [`x ${PAN_REPLACEMENT}`],
      b: { c: PAN_REPLACEMENT, amount: 1999, at: 1764200000000 },
      [PAN_REPLACEMENT]: 'a card number as a field name',
      deep: {
        deeper: {
          card: {
            cvc: FIELD_REPLACEMENT,
            security_code: FIELD_REPLACEMENT,
            Authorization: FIELD_REPLACEMENT,
          },
        },
      },
      err: expect.objectContaining({ type: 'Error', message: `declined ${PAN_REPLACEMENT}` }),
    });
    expect(JSON.stringify(scrubbed)).not.toMatch(/4111|sk_live|123|987/);
  });
});
