import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedProcessor } from '../src/demo/processor.ts';

describe('the simulated processor (tests, demo, benchmarks)', () => {
  let processor: SimulatedProcessor;
  beforeAll(async () => {
    processor = await new SimulatedProcessor().start();
  });
  afterAll(async () => processor?.stop());

  const post = async (path: string, body: string) => {
    const response = await fetch(`${processor.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { code: string; message: string }; id?: string },
    };
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
    const before = processor.charges.length;
    for (const [body, code] of refused) {
      const answer = await post('/v1/payments', body);
      expect({ body, status: answer.status, code: answer.body.error?.code }).toEqual({
        body,
        status: 400,
        code,
      });
      expect(answer.body.error?.message).toMatch(/expected a JSON object|amount/);
    }
    expect(processor.charges.length).toBe(before);
    const ok = await post('/v1/payments', '{"amount": 4500, "reference": "good"}');
    expect(ok.status).toBe(201);
    expect(processor.chargesFor('good')).toBe(1);
  });

  it('asks no amount of other requests, but still a JSON body', async () => {
    expect((await post('/v1/billing/upload', '{"records": [1]}')).status).toBe(202);
    expect((await post('/v1/payments/ch_1/capture', '{}')).status).toBe(201);
    expect((await post('/v1/billing/upload', 'records=1')).body.error?.code).toBe('invalid_json');
  });

  it('honours keys by default; with honorKeys false it charges every send again and still answers the lookup', async () => {
    const keyed = (key: string, reference: string) =>
      fetch(`${processor.url}/v1/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ amount: 100, reference }),
      });
    const first = await keyed('sim-key-1', 'sim-ref-1');
    const again = await keyed('sim-key-1', 'sim-ref-1');
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(await first.text());
    expect(processor.chargesFor('sim-ref-1')).toBe(1);

    const careless = await new SimulatedProcessor({ honorKeys: false }).start();
    try {
      const send = () =>
        fetch(`${careless.url}/v1/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'sim-key-2' },
          body: JSON.stringify({ amount: 100, reference: 'sim-ref-2' }),
        });
      const answers = [await send(), await send()];
      expect(answers.map((a) => [a.status, a.headers.get('idempotent-replayed')])).toEqual([
        [201, null],
        [201, null],
      ]);
      expect(careless.chargesFor('sim-ref-2')).toBe(2);
      expect(careless.duplicateCharges).toBe(1);
      const lookup = await fetch(`${careless.url}/v1/payments/by-key/sim-key-2`);
      expect(lookup.status).toBe(201);
      expect(((await lookup.json()) as { id: string }).id).toBe(careless.charges[1]!.id);
    } finally {
      await careless.stop();
    }
  });
});
