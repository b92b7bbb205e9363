import type { Context } from 'hono';
import type { AppEnv } from '../app.ts';
import { readBody } from '../read-body.ts';

/**
 * The request body, read at most once per request (under the route's limit) and kept on the
 * context: merchant authentication hashes it, input limits inspect it, the proxy forwards it.
 */
export async function bufferedBody<E extends AppEnv>(c: Context<E>, maxBytes: number): Promise<Uint8Array | null> {
  const cached = c.get('requestBody');
  if (cached !== undefined) return cached;
  const body = await readBody(c.req.raw, maxBytes);
  c.set('requestBody', body);
  return body;
}
