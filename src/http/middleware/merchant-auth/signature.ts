import { timingSafeEqual } from 'hono/utils/buffer';
import { toHex } from '../../../core/hex.ts';

/**
 * Merchant request signatures (scheme "v1"), Web Crypto only so the same code runs on Node and
 * Workers. The signed string binds every part a replay or tampering could change:
 *
 *   v1\n{METHOD}\n{path and query}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
 *
 * and the signature header carries `v1=` + hex HMAC-SHA256 of it under the merchant's secret.
 */
export const SIGNATURE_VERSION = 'v1';

export const MERCHANT_HEADERS = {
  merchant: 'x-paypath-merchant',
  timestamp: 'x-paypath-timestamp',
  nonce: 'x-paypath-nonce',
  signature: 'x-paypath-signature',
  apiKey: 'x-paypath-api-key',
} as const;

/** Authentication headers are for paypath only: never forwarded to a carrier or the processor. */
export const MERCHANT_AUTH_HEADER_NAMES: readonly string[] = Object.values(MERCHANT_HEADERS);

export interface SignedParts {
  method: string;
  /** Path and query exactly as sent, e.g. `/v1/payments?expand=charge`. */
  target: string;
  /** Unix time in seconds. */
  timestamp: number;
  nonce: string;
  body: Uint8Array | null;
}

const encoder = new TextEncoder();

export async function sha256Hex(data: Uint8Array | null): Promise<string> {
  const digest = await crypto.subtle.digest(
    'SHA-256',
    (data ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>,
  );
  return toHex(new Uint8Array(digest));
}

export async function stringToSign(parts: SignedParts): Promise<string> {
  return [
    SIGNATURE_VERSION,
    parts.method.toUpperCase(),
    parts.target,
    String(parts.timestamp),
    parts.nonce,
    await sha256Hex(parts.body),
  ].join('\n');
}

async function hmac(secret: string, message: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
}

/** The value of the signature header for a request, as a merchant computes it. */
export async function signRequest(secret: string, parts: SignedParts): Promise<string> {
  return `${SIGNATURE_VERSION}=${toHex(await hmac(secret, await stringToSign(parts)))}`;
}

/** Headers a merchant adds to a request (used by the demo, benchmarks and tests). */
export async function signedHeaders(
  merchantId: string,
  secret: string,
  request: { method: string; target: string; body: Uint8Array | string | null },
  options: { timestamp?: number; nonce?: string } = {},
): Promise<Record<string, string>> {
  const body = typeof request.body === 'string' ? encoder.encode(request.body) : request.body;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? crypto.randomUUID();
  const signature = await signRequest(secret, {
    method: request.method,
    target: request.target,
    timestamp,
    nonce,
    body,
  });
  return {
    [MERCHANT_HEADERS.merchant]: merchantId,
    [MERCHANT_HEADERS.timestamp]: String(timestamp),
    [MERCHANT_HEADERS.nonce]: nonce,
    [MERCHANT_HEADERS.signature]: signature,
  };
}

/** Whether `signatureHeader` is the right signature for `parts` under `secret`, compared in constant time. */
export async function verifySignature(
  secret: string,
  parts: SignedParts,
  signatureHeader: string,
): Promise<boolean> {
  return timingSafeEqual(await signRequest(secret, parts), signatureHeader);
}
