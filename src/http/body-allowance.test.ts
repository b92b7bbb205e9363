import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../core/limits/byte-budget.ts';
import { BodyAllowance } from './body-allowance.ts';

describe('BodyAllowance', () => {
  it('keeps the last eighth of the budget for bodies declared small: the first bytes of large bodies cannot take it', () => {
    const budget = new ByteBudget(() => 131_072);
    const greedy = () => new BodyAllowance(budget, 0, 200_000);
    expect(greedy().tryTake(65_536)).toBe(true);
    expect(greedy().tryTake(49_152)).toBe(true); // 114,688: 7/8 of the budget
    const third = greedy();
    expect(third.tryTake(16_384)).toBe(false);
    const unsized = new BodyAllowance(budget, 0);
    expect(unsized.tryTake(1_000)).toBe(false);
    const payment = new BodyAllowance(budget, 0, 1_000);
    expect(payment.tryTake(1_000)).toBe(true);
    expect(payment.held).toBe(1_000);
  });

  it('gives back all it took when the request ends', async () => {
    const budget = new ByteBudget(() => 100_000);
    const allowance = new BodyAllowance(budget, 1_000, 50_000);
    expect(allowance.tryTake(20_000)).toBe(true);
    await allowance.take(30_000);
    expect(budget.used).toBe(50_000);
    allowance.release();
    expect(budget.used).toBe(0);
  });

  it('answers 503 body_budget_exhausted, with Retry-After and the connection closed, when no room comes', async () => {
    const budget = new ByteBudget(() => 100_000);
    budget.tryTake(100_000);
    const error = await new BodyAllowance(budget, 0, 1_000).take(1_000).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'body_budget_exhausted',
      status: 503,
      headers: { 'retry-after': '1', connection: 'close' },
    });
  });
});
