import type { Context } from 'hono';
import type { AppEnv } from '../app.ts';
import { readBody } from '../read-body.ts';

/** Reads a request's body under a limit. The default reads the Web Request; a runtime may read its own stream. */
export type RequestBodyReader = (c: Context, maxBytes: number) => Promise<Uint8Array | null>;

export const readWebRequestBody: RequestBodyReader = (c, maxBytes) => readBody(c.req.raw, maxBytes);

/**
 * The request body, read at most once per request (under the route's limit) and kept on the
 * context: merchant authentication hashes it, input limits inspect it, the proxy forwards it.
 */
export async function bufferedBody<E extends AppEnv>(c: Context<E>, maxBytes: number): Promise<Uint8Array | null> {
  const cached = c.get('requestBody');
  if (cached !== undefined) return cached;
  const body = await c.get('readRequestBody')(c as unknown as Context, maxBytes);
  c.set('requestBody', body);
  return body;
}
