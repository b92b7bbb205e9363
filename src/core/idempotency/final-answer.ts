/**
 * Whether an upstream answer is final, so it may be stored for replay (and ends a queued request).
 * Like Stripe: 2xx-4xx are final, except answers that say "not now" rather than "this is the
 * result": 408 (timeout), 409 (the processor is still processing this key), 425 and 429.
 * 5xx are not final: the next retry must ask the processor again under the same key, which is
 * also what makes a retry after outcome_unknown learn the real outcome.
 */
export function isFinalAnswer(status: number): boolean {
  return status < 500 && status !== 408 && status !== 409 && status !== 425 && status !== 429;
}
