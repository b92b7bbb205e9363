import { canonicalJson } from '../policy/hash.ts';

/**
 * The fingerprint a key is stored with: SHA-256 over method, route id and the canonical body.
 * A JSON body is canonicalised (keys sorted, whitespace dropped) so a client that re-serialises
 * the same payment differently is still recognised; any other body is taken byte for byte.
 */
export async function requestFingerprint(
  method: string,
  routeId: string,
  contentType: string | null,
  body: Uint8Array | null,
  sha256: Sha256Hex = webCryptoSha256Hex,
): Promise<string> {
  const canonical = canonicalBody(contentType, body);
  const head = encoder.encode(`${method.toUpperCase()}\n${routeId}\n`);
  const bytes = new Uint8Array(head.byteLength + canonical.byteLength);
  bytes.set(head, 0);
  bytes.set(canonical, head.byteLength);
  return sha256(bytes);
}

/**
 * SHA-256 as lowercase hex. Web Crypto by default (every runtime has it); Node injects its
 * synchronous hash, since each Web Crypto digest there is a thread-pool job (~9 % of a payment's CPU).
 */
export type Sha256Hex = (bytes: Uint8Array) => string | Promise<string>;

export const webCryptoSha256Hex: Sha256Hex = async (bytes) => {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
};

// Both keep no state between calls (no streaming), so one of each serves every request.
const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function canonicalBody(contentType: string | null, body: Uint8Array | null): Uint8Array {
  if (body === null) return new Uint8Array(0);
  if (contentType !== null && /^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType.trim())) {
    try {
      const value: unknown = JSON.parse(strictUtf8.decode(body));
      return encoder.encode(canonicalJson(value));
    } catch {
      // Not valid JSON after all: the raw bytes are the identity.
    }
  }
  return body;
}
