import type { Context } from 'hono';
import type { AppEnv } from '../../app.ts';
import type { BodyAllowance } from '../../body-allowance.ts';
import { readBody } from '../../read-body.ts';

/**
 * Reads a request's body under a limit, taking its bytes from the request's share of the process's
 * body budget. The default reads the Web Request; a runtime may read its own stream.
 */
export type RequestBodyReader = (c: Context, maxBytes: number, allowance: BodyAllowance) => Promise<Uint8Array | null>;

export const readWebRequestBody: RequestBodyReader = (c, maxBytes, allowance) => readBody(c.req.raw, maxBytes, allowance);

/**
 * The request body, read at most once per request (under the route's limit) and kept on the
 * context: merchant authentication hashes it, input limits inspect it, the proxy forwards it.
 */
export async function bufferedBody<E extends AppEnv>(c: Context<E>, maxBytes: number): Promise<Uint8Array | null> {
  const cached = c.get('requestBody');
  if (cached !== undefined) return cached;
  const body = await c.get('readRequestBody')(c as unknown as Context, maxBytes, c.get('bodyAllowance'));
  c.set('requestBody', body);
  return body;
}
