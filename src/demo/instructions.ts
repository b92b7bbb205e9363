/**
 * The shell commands the demo prints. Kept apart from the demo's start-up so a test can run them as
 * printed: a newcomer pastes them more than once, and each paste must be a new payment.
 */

/**
 * A fresh payment reference on every run, in any POSIX shell: `$RANDOM` is bash's alone, and
 * `date +%N` is GNU's. The same reference twice would be a duplicate charge in the ledger.
 */
const NEW_REFERENCE = `ref="order-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \\n')"`;

/** One payment, as a curl command; signed as the demo merchant when the policy asks merchants to sign. */
export function paymentCommand(gatewayUrl: string, signed: boolean): string {
  const body = `body="{\\"amount\\": 4500, \\"currency\\": \\"KRW\\", \\"reference\\": \\"$ref\\"}"`;
  const curl = `curl -si ${gatewayUrl}/v1/payments -H 'content-type: application/json' -H "Idempotency-Key: $ref"`;
  return signed
    ? `  ${NEW_REFERENCE}; ${body}\n  ${curl} \\\n       $(npm run -s sign -- POST /v1/payments "$body") -d "$body"`
    : `  ${NEW_REFERENCE}; ${body}\n  ${curl} -d "$body"`;
}

/** Cutting two carriers and restoring both: a restore step that forgot one would leave the demo at N+1. */
export function carrierCommands(controlUrl: string, first: string, second: string): string {
  const cuts =
    first === second ? [`${first}/blackhole`] : [`${first}/blackhole`, `${second}/reset`];
  const restores = first === second ? [first] : [first, second];
  return [
    ...cuts.map((cut) => `  curl -X POST ${controlUrl}/carriers/${cut}`),
    ...restores.map((id) => `  curl -X POST ${controlUrl}/carriers/${id}/up`),
  ].join('\n');
}
