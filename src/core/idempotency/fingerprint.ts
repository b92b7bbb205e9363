import { toHex } from '../hex.ts';
import { canonicalJson } from '../policy/hash.ts';

/** The request a key is bound to: exactly what goes upstream. */
export interface FingerprintedRequest {
  method: string;
  /** Path and query as forwarded (`/v1/payments/ch_A/capture?expand=x`). */
  target: string;
  contentType: string | null;
  body: Uint8Array | null;
}

/** Marks fingerprints that cover the path and query; records without it were stored by an earlier version. */
const VERSION_PREFIX = 'v2:';

/**
 * The fingerprint a key is stored with: SHA-256 over method, path and query, and the canonical body.
 * A key belongs to one exact request (as Stripe compares endpoint and parameters): the same key and
 * body sent to another charge's capture, or with another query, is another request. A JSON body is
 * canonicalised (keys sorted, whitespace dropped) so a client that re-serialises the same payment
 * differently is still recognised; any other body, and the target, are taken byte for byte.
 */
export async function requestFingerprint(
  request: FingerprintedRequest,
  sha256: Sha256Hex = webCryptoSha256Hex,
): Promise<string> {
  // The target is percent-encoded ASCII (no newline), so the separator cannot be forged by it.
  return (
    VERSION_PREFIX +
    (await sha256(
      withHead(
        `${request.method.toUpperCase()}\n${request.target}\n`,
        canonicalBody(request.contentType, request.body),
      ),
    ))
  );
}

/** True for a fingerprint stored before fingerprints covered the path and query (see legacyRequestFingerprint). */
export function isLegacyFingerprint(fingerprint: string): boolean {
  return !fingerprint.startsWith(VERSION_PREFIX);
}

/**
 * The fingerprint earlier versions stored: method, route id and body, without the path and query.
 * Kept only to tell, for records stored before an upgrade (they expire with `idempotencyStore.ttlMs`),
 * a request that certainly differs from one that may be the same (docs/exactly-once.md, Upgrading).
 */
export async function legacyRequestFingerprint(
  method: string,
  routeId: string,
  contentType: string | null,
  body: Uint8Array | null,
  sha256: Sha256Hex = webCryptoSha256Hex,
): Promise<string> {
  return sha256(
    withHead(`${method.toUpperCase()}\n${routeId}\n`, canonicalBody(contentType, body)),
  );
}

/**
 * SHA-256 as lowercase hex. Web Crypto by default (every runtime has it); Node injects its
 * synchronous hash, since each Web Crypto digest there is a thread-pool job (~9 % of a payment's CPU).
 */
export type Sha256Hex = (bytes: Uint8Array) => string | Promise<string>;

export const webCryptoSha256Hex: Sha256Hex = async (bytes) => {
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
};

// Both keep no state between calls (no streaming), so one of each serves every request.
const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function withHead(head: string, canonical: Uint8Array): Uint8Array {
  const headBytes = encoder.encode(head);
  const bytes = new Uint8Array(headBytes.byteLength + canonical.byteLength);
  bytes.set(headBytes, 0);
  bytes.set(canonical, headBytes.byteLength);
  return bytes;
}

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
