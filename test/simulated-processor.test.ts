import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedProcessor } from '../src/demo/processor.ts';

describe('the simulated processor (tests, demo, benchmarks)', () => {
  let processor: SimulatedProcessor;
  beforeAll(async () => {
    processor = await new SimulatedProcessor().start();
  });
  afterAll(async () => processor?.stop());

  const post = async (path: string, body: string) => {
    const response = await fetch(`${processor.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string }; id?: string } };
  };

  it('refuses a payment whose body is not a JSON object, or has no positive whole amount, and charges nothing', async () => {
    const refused: [string, string][] = [
      ['{', 'invalid_json'],
      ['', 'invalid_json'],
      ['[1, 2]', 'invalid_json'],
      ['null', 'invalid_json'],
      ['{"reference": "no-amount"}', 'amount_required'],
      ['{"amount": "4500", "reference": "text-amount"}', 'invalid_amount'],
      ['{"amount": 0, "reference": "zero"}', 'invalid_amount'],
      ['{"amount": 45.5, "reference": "fraction"}', 'invalid_amount'],
    ];
    for (const [body, code] of refused) {
      const answer = await post('/v1/payments', body);
      expect({ body, status: answer.status, code: answer.body.error?.code }).toEqual({ body, status: 400, code });
      expect(answer.body.error?.message).toMatch(/expected a JSON object|amount/);
    }
    expect(processor.charges).toHaveLength(0);
    const ok = await post('/v1/payments', '{"amount": 4500, "reference": "good"}');
    expect(ok.status).toBe(201);
    expect(processor.chargesFor('good')).toBe(1);
  });

  it('asks no amount of other requests, but still a JSON body', async () => {
    expect((await post('/v1/billing/upload', '{"records": [1]}')).status).toBe(202);
    expect((await post('/v1/payments/ch_1/capture', '{}')).status).toBe(201);
    expect((await post('/v1/billing/upload', 'records=1')).body.error?.code).toBe('invalid_json');
  });
});
