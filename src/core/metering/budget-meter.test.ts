import { describe, expect, it } from 'vitest';
import { PolicySchema } from '../policy/schema.ts';
import { BudgetMeter } from './budget-meter.ts';

describe('BudgetMeter', () => {
  it('counts per UTC month and starts again at 0 when the month turns', () => {
    const policy = PolicySchema.parse({
      version: 1,
      paths: [{ id: 'lte', upstream: 'http://127.0.0.1:9', budget: { requestsPerMonth: 100 } }],
      routes: [{ id: 'pay', match: { method: 'POST', path: '/' }, paths: ['lte'] }],
    });
    let now = new Date('2026-11-30T23:59:59.000Z');
    const meter = new BudgetMeter({ policy: () => policy, notify: async () => {}, now: () => now });
    meter.record('lte', 'payment', 10);
    meter.record('lte', 'payment', 10);
    expect(meter.usage()[0]).toMatchObject({ month: '2026-11', requests: 2, bytes: 20 });
    now = new Date('2026-12-01T00:00:00.000Z');
    meter.record('lte', 'payment', 5);
    expect(meter.usage()[0]).toMatchObject({ month: '2026-12', requests: 1, bytes: 5 });
  });
});
