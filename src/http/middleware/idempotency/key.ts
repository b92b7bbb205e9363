import { PaypathError } from '../../../core/errors.ts';
import type { RouteConfig } from '../../../core/policy/schema.ts';

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * The client's idempotency key for this route, validated, or a generated one (`pp_` + a random
 * UUID) when the client sent none and the route does not require one.
 */
export function idempotencyKey(
  route: RouteConfig,
  headers: Headers,
): { key: string; generated: boolean } {
  const supplied = headers.get(route.idempotency.header);
  if (supplied === null && route.idempotency.require) {
    throw new PaypathError(
      'idempotency_key_required',
      400,
      `route "${route.id}" requires an ${route.idempotency.header} header`,
      {
        details: { header: route.idempotency.header },
      },
    );
  }
  if (supplied === null) return { key: `pp_${crypto.randomUUID()}`, generated: true };
  if (
    supplied.length === 0 ||
    supplied.length > MAX_IDEMPOTENCY_KEY_LENGTH ||
    !/^[\x21-\x7e]+$/.test(supplied)
  ) {
    throw new PaypathError(
      'idempotency_key_invalid',
      400,
      `${route.idempotency.header} must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces`,
      { details: { header: route.idempotency.header } },
    );
  }
  return { key: supplied, generated: false };
}
