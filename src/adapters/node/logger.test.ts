import { describe, expect, it } from 'vitest';
import { capturedLogger as capture } from '../../../test/support/captured-logger.ts';
import {
  cardNumberForms,
  exposesCardNumber,
  TEST_CARD_NUMBERS,
} from '../../../test/support/card-data.ts';
import { logRequest } from './ops.ts';

const request = (pathname: string) => ({
  requestId: 'r-1',
  method: 'GET',
  pathname,
  route: undefined,
  routeClass: undefined,
  path: undefined,
  attempts: 0,
  status: 404,
  outcome: 'http_404',
  durationMs: 1,
  requestBytes: 0,
  responseBytes: 0,
  replayed: false,
});

describe('log lines', () => {
  it('never carry a card number in any field, message included, whatever its spacing or encoding', () => {
    const { logger, lines } = capture();
    const exposed: string[] = [];
    for (const pan of TEST_CARD_NUMBERS) {
      for (const [form, text] of Object.entries(cardNumberForms(pan))) {
        lines.length = 0;
        logRequest(logger, request(`/v1/cards/${text}`));
        logger.warn(
          {
            event: 'x',
            reason: text,
            nested: { deeper: [{ note: text }] },
            [text]: 'as a field name',
          },
          `failed for ${text}`,
        );
        logger.info(`message only: ${text}`);
        logger.info({ event: 'interpolated' }, 'card %s, object %j', text, { text });
        logger.error(new Error(`thrown with ${text}`));
        logger.child({ bound: text }).info({ event: 'child' }, 'child line');
        expect(lines.length).toBe(6);
        for (const line of lines)
          if (exposesCardNumber(line, pan)) exposed.push(`${form}: ${line}`);
      }
    }
    expect(exposed).toEqual([]);
  });

  it('mask the number in the request line message as in its pathname (GET /v1/cards/<pan> 404)', () => {
    const { logger, lines } = capture();
    logRequest(logger, request('/v1/cards/4111111111111111'));
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.pathname).toBe('/v1/cards/[pan-redacted]');
    expect(line.msg).toBe('GET /v1/cards/[pan-redacted] 404 http_404');
  });

  it('keep numbers that are not card numbers', () => {
    const { logger, lines } = capture();
    logger.info(
      { event: 'e', amount: 1999, at: 1764200000000, note: 'order 4111111111111112' },
      'amount 1999 at 1764200000000',
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      amount: 1999,
      at: 1764200000000,
      note: 'order 4111111111111112',
      msg: 'amount 1999 at 1764200000000',
    });
  });

  it('never carry a card security code, in a body object at any depth or in text', () => {
    const { logger, lines } = capture();
    const body = { amount: 1999, card: { number: '4111111111111111', cvc: '737', exp: '12/30' } };
    logger.info({ event: 'a', request: { body } }, 'object');
    logger.info(
      { event: 'b', details: { upstream: { payload: { source: { card: { cvv: 737 } } } } } },
      'deep object',
    );
    logger.info({ event: 'c', sample: JSON.stringify(body) }, `as text: ${JSON.stringify(body)}`);
    logger.info(
      { event: 'd', form: 'card[number]=4111111111111111&card[cvc]=737' },
      'form: card%5Bcvc%5D=737',
    );
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      // The line's own clock and process id are left out: a timestamp such as 1796297376844 holds 737 too.
      const { time, pid, ...logged } = JSON.parse(line) as Record<string, unknown>;
      expect([typeof time, typeof pid]).toEqual(['number', 'number']);
      expect(JSON.stringify(logged)).not.toContain('737');
      expect(exposesCardNumber(line, '4111111111111111')).toBe(false);
    }
  });
});
