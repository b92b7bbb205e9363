import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsStack } from './support/ops-harness.ts';
import { POLL } from './support/poll.ts';

const PAN = '4111111111111111';
const PAN_GROUPED = '4111 1111 1111 1111';
const CVV = '737';

describe('card data never reaches logs or error bodies', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start();
  });
  afterAll(async () => stack?.stop());

  it('success, upstream failure, carrier reset, blackhole timeout and error paths: 0 occurrences of the PAN and CVV', async () => {
    const bodies: string[] = [];
    let sent = 0;
    const send = async (
      reference: string,
      init: { headers?: Record<string, string>; path?: string; bodyExtra?: string } = {},
    ) => {
      sent++;
      const response = await fetch(`${stack.gateway.url}${init.path ?? '/v1/payments'}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `key-${reference}`,
          ...init.headers,
        },
        body: `{"amount": 4500, "reference": "${reference}", "card": {"number": "${PAN}", "cvv": "${CVV}"}, "note": "${PAN_GROUPED}"${init.bodyExtra ?? ''}}`,
      });
      const text = await response.text();
      bodies.push(text);
      return response.status;
    };

    expect(await send('r-ok')).toBe(201);
    stack.processor.failNext(3, 503); // upstream failures on every path: the 503 comes back as is
    expect(await send('r-5xx')).toBe(503);
    // A failure this request did not use up (fewer attempts, on a loaded machine) is not the next one's.
    stack.processor.failNext(0);
    await stack.carrier('kt-fiber').setMode({ mode: 'reset' });
    expect(await send('r-reset')).toBe(201); // failed over
    for (const id of ['kt-fiber', 'skt-fiber', 'lgu-lte'])
      await stack.carrier(id).setMode({ mode: 'blackhole' });
    // Sent into the black hole on every path: no answer came, so the outcome is unknown.
    expect(await send('r-timeout')).toBe(502);
    expect(bodies.at(-1)).toContain('"code":"outcome_unknown"');
    for (const id of ['kt-fiber', 'skt-fiber', 'lgu-lte'])
      await stack.carrier(id).setMode({ mode: 'up' });
    expect(await send('r-bad-key', { headers: { 'idempotency-key': `bad key ${PAN}` } })).toBe(400);
    expect(await send('r-no-route', { path: '/v1/nothing' })).toBe(404);
    expect(await send('r-too-large', { bodyExtra: `, "pad": "${'x'.repeat(1_100_000)}"` })).toBe(
      413,
    );
    expect(await send('r-request-id', { headers: { 'x-request-id': PAN } })).toBe(201);

    // One request line per request, so the scan below covers every path taken.
    await expect
      .poll(() => stack.logLines.filter((l) => l.includes('"event":"request"')).length, POLL)
      .toBeGreaterThanOrEqual(sent);
    const everything = [...stack.logLines, ...bodies];
    const digitsOnly = everything.map((text) => text.replace(/[ -]/g, ''));
    expect(digitsOnly.filter((text) => text.includes(PAN))).toEqual([]);
    expect(
      everything.filter((text) => /cvv\W{0,5}737/i.test(text) || text.includes(`"${CVV}"`)),
    ).toEqual([]);
    const outcomes = stack.logLines
      .filter((l) => l.includes('"event":"request"'))
      .map((l) => (JSON.parse(l) as { outcome: string }).outcome);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        'ok',
        'upstream_503',
        'idempotency_key_invalid',
        'route_not_found',
        'body_too_large',
      ]),
    );
    // The answers that did reach the client still carry their codes.
    expect(bodies.some((b) => b.includes('idempotency_key_invalid'))).toBe(true);
    expect(bodies.some((b) => b.includes('body_too_large'))).toBe(true);
  });

  it('the logger scrubs card numbers in any field or message and redacts CVV fields', async () => {
    const { createLogger } = await import('../src/adapters/node/logger.ts');
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({
        write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()),
      }),
    });
    logger.info(
      { detail: `card ${PAN}`, nested: { cvv: CVV, list: [PAN_GROUPED] } },
      `message with ${PAN}`,
    );
    logger.error({ err: new Error(`failed for ${PAN}`) }, 'boom');
    expect(lines).toHaveLength(2);
    const text = lines.join('');
    expect(text.replace(/[ -]/g, '')).not.toContain(PAN);
    expect(text).not.toContain(`"${CVV}"`);
    expect(text).toContain('[pan-redacted]');
  });
});
