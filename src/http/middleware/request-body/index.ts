import type { Context } from 'hono';
import type { AppEnv, RequestBodyReader } from '../../env.ts';
import { readBody } from '../../read-body.ts';

/** Reads the Web Request's body (see RequestBodyReader). */
export const readWebRequestBody: RequestBodyReader = (c, maxBytes, allowance) =>
  readBody(c.req.raw, maxBytes, allowance);

/**
 * The request body, read at most once per request (under the route's limit) and kept on the
 * context: merchant authentication hashes it, input limits inspect it, the proxy forwards it.
 */
export async function bufferedBody<E extends AppEnv>(
  c: Context<E>,
  maxBytes: number,
): Promise<Uint8Array | null> {
  const cached = c.get('requestBody');
  if (cached !== undefined) return cached;
  const body = await c.get('readRequestBody')(
    c as unknown as Context,
    maxBytes,
    c.get('bodyAllowance'),
  );
  c.set('requestBody', body);
  return body;
}
