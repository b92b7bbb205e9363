import { afterEach, describe, expect, it, vi } from 'vitest';
import { ByteBudget } from './byte-budget.ts';

describe('ByteBudget', () => {
  afterEach(() => vi.useRealTimers());

  it('holds no more than its capacity, and takes again what is given back', () => {
    const budget = new ByteBudget(() => 100);
    expect(budget.tryTake(60)).toBe(true);
    expect(budget.tryTake(41)).toBe(false);
    expect(budget.tryTake(40)).toBe(true);
    expect(budget.used).toBe(100);
    budget.give(60);
    expect(budget.tryTake(60)).toBe(true);
  });

  it('lets a waiting take in when bytes are given back, and refuses it when none come in time', async () => {
    vi.useFakeTimers();
    const budget = new ByteBudget(() => 100);
    budget.tryTake(100);
    const admitted = budget.take(50, 1_000);
    const refused = budget.take(80, 1_000);
    expect(budget.waiting).toBe(2);
    budget.give(50);
    expect(await admitted).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(await refused).toBe(false);
    expect(budget.waiting).toBe(0);
    expect(budget.used).toBe(100);
  });

  it('refuses at once what could never fit', async () => {
    const budget = new ByteBudget(() => 100);
    expect(await budget.take(101, 60_000)).toBe(false);
    expect(budget.waiting).toBe(0);
  });

  it("keeps the part above a take's ceiling for takes allowed to fill it, which a waiting large take does not block", async () => {
    vi.useFakeTimers();
    const budget = new ByteBudget(() => 100);
    expect(budget.tryTake(80, 87)).toBe(true);
    expect(budget.tryTake(10, 87)).toBe(false); // large: only up to 87
    const large = budget.take(10, 1_000, 87);
    expect(budget.tryTake(10)).toBe(true); // small: the whole capacity, past the waiting large one
    budget.give(20);
    expect(await large).toBe(true);
    expect(budget.used).toBe(80);
  });

  it('follows a capacity that changes (a new policy)', () => {
    let capacity = 100;
    const budget = new ByteBudget(() => capacity);
    expect(budget.tryTake(100)).toBe(true);
    capacity = 200;
    expect(budget.tryTake(100)).toBe(true);
    expect(budget.capacity).toBe(200);
  });
});
