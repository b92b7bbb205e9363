import { PaypathError } from '../core/errors.ts';
import type { BodyAllowance } from './body-allowance.ts';

/** 413 `body_too_large`, naming the limit. */
export function bodyTooLarge(maxBytes: number): PaypathError {
  return new PaypathError(
    'body_too_large',
    413,
    `request body exceeds this route's limit of ${maxBytes} bytes`,
    { details: { limit: maxBytes } },
  );
}

/**
 * Reads a request body into memory, refusing more than `maxBytes` (413 `body_too_large`) before
 * reading it all. Buffering is deliberate: only a buffered body can be sent again on another path.
 * The bytes are taken from the process's body budget (`allowance`) before they are read: a declared
 * length at once, an unsized body chunk by chunk (503 `body_budget_exhausted` when there is no room in time).
 */
export async function readBody(
  request: Request,
  maxBytes: number,
  allowance?: BodyAllowance,
): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw bodyTooLarge(maxBytes);
  if (request.body === null) return null;
  const sized = Number.isFinite(declared) && declared > 0;
  if (sized && allowance && !allowance.tryTake(declared)) await allowance.take(declared);

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
    if (!sized && allowance && !allowance.tryTake(value.byteLength)) {
      try {
        await allowance.take(value.byteLength);
      } catch (error) {
        await reader.cancel().catch(() => {});
        throw error;
      }
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
