import { PaypathError } from '../core/errors.ts';

/** 413 `body_too_large`, naming the limit. */
export function bodyTooLarge(maxBytes: number): PaypathError {
  return new PaypathError('body_too_large', 413, `request body exceeds this route's limit of ${maxBytes} bytes`, { details: { limit: maxBytes } });
}

/**
 * Reads a request body into memory, refusing more than `maxBytes` (413 `body_too_large`) before
 * reading it all. Buffering is deliberate: only a buffered body can be sent again on another path.
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw bodyTooLarge(maxBytes);
  if (request.body === null) return null;

  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return joinChunks(chunks, total);
}

/** The chunks as one array (null when empty). */
export function joinChunks(chunks: Uint8Array[], total: number): Uint8Array | null {
  if (total === 0) return null;
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
