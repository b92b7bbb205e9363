import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.ts';

describe('RetryBudget', () => {
  it('allows the floor of concurrent re-sends, then a share of requests in progress', () => {
    const budget = new RetryBudget({ percent: 20, minConcurrent: 2 });
    const ends = Array.from({ length: 20 }, () => budget.begin());
    const slots = [budget.acquire(), budget.acquire(), budget.acquire(), budget.acquire()];
    expect(slots.filter(Boolean)).toHaveLength(4); // 20 % of 20
    expect(budget.acquire()).toBeUndefined();
    expect(budget.refused).toBe(1);
    slots[0]!();
    expect(budget.acquire()).toBeDefined();
    for (const end of ends) end();
    expect(budget.active).toBe(0);
    // With nothing in progress the floor still applies (2 slots; 4 are held).
    expect(budget.acquire()).toBeUndefined();
  });

  it('releases each slot once', () => {
    const budget = new RetryBudget({ percent: 0, minConcurrent: 1 });
    const slot = budget.acquire()!;
    slot();
    slot();
    expect(budget.retrying).toBe(0);
  });
});
