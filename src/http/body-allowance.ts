import { PaypathError } from '../core/errors.ts';
import type { ByteBudget } from '../core/limits/byte-budget.ts';

/**
 * A body declared (content-length) up to this size, as a payment's JSON of about 1 KB is, may use
 * the whole budget; bytes of larger or unsized bodies only up to LARGE_BODY_SHARE of it. So a flood
 * of large bodies that fills its part leaves room for thousands of payments beside it, and their
 * first bytes cannot take that room either (they once did, and payments waited behind them).
 */
export const SMALL_BODY_BYTES = 65_536;
export const LARGE_BODY_SHARE = 7 / 8;

/** 503 `body_budget_exhausted`: no room for this body in the process's budget in time. */
export function bodyBudgetExhausted(budgetBytes: number, waitMs: number): PaypathError {
  return new PaypathError(
    'body_budget_exhausted',
    503,
    `the gateway already holds as many request-body bytes as limits.bodyBudgetBytes (${budgetBytes}) allows, and none came free within ${waitMs} ms; retry shortly`,
    // Closed after the answer: the rest of the body is never read, so the connection cannot carry another request.
    { details: { limit: budgetBytes }, headers: { 'retry-after': '1', connection: 'close' } },
  );
}

/**
 * One request's share of the process's request-body budget: the bytes of its body as they
 * arrive, all given back when the request ends (`release`), however it ends.
 */
export class BodyAllowance {
  readonly #budget: ByteBudget;
  readonly #waitMs: number;
  readonly #declaredSmall: boolean;
  #held = 0;

  /** `declaredBytes`: the request's content-length, when it has one. */
  constructor(budget: ByteBudget, waitMs: number, declaredBytes?: number) {
    this.#budget = budget;
    this.#waitMs = waitMs;
    this.#declaredSmall =
      declaredBytes !== undefined &&
      Number.isFinite(declaredBytes) &&
      declaredBytes <= SMALL_BODY_BYTES;
  }

  get held(): number {
    return this.#held;
  }

  /** Takes `bytes` when they fit now (no wait). */
  tryTake(bytes: number): boolean {
    if (!this.#budget.tryTake(bytes, this.#ceiling(bytes))) return false;
    this.#held += bytes;
    return true;
  }

  /** Takes `bytes`, waiting for room; rejects with 503 body_budget_exhausted when none comes in time. */
  async take(bytes: number): Promise<void> {
    if (!(await this.#budget.take(bytes, this.#waitMs, this.#ceiling(bytes))))
      throw bodyBudgetExhausted(this.#budget.capacity, this.#waitMs);
    this.#held += bytes;
  }

  release(): void {
    this.#budget.give(this.#held);
    this.#held = 0;
  }

  #ceiling(bytes: number): number {
    const capacity = this.#budget.capacity;
    return this.#declaredSmall && this.#held + bytes <= SMALL_BODY_BYTES
      ? capacity
      : Math.floor(capacity * LARGE_BODY_SHARE);
  }
}
