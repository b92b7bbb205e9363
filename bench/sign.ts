// Merchant request signing for load generators, synchronous (node:crypto) so it fits autocannon's
// per-request hook and the open-loop scheduler without awaiting. Same "v1" scheme as
// src/http/middleware/merchant-auth/signature.ts (a test checks they agree).
import { createHash, createHmac, randomUUID } from 'node:crypto';

export interface MerchantCredentials {
  merchant: string;
  secret: string;
}

export const BENCH_MERCHANT: MerchantCredentials = {
  merchant: 'bench-shop',
  secret: 'bench-only-secret-0123456789abcdefghij',
};

export function signHeadersSync(
  credentials: MerchantCredentials,
  method: string,
  target: string,
  body: string,
  options: { timestamp?: number; nonce?: string } = {},
): Record<string, string> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? randomUUID();
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const signed = ['v1', method.toUpperCase(), target, String(timestamp), nonce, bodyHash].join(
    '\n',
  );
  return {
    'x-paypath-merchant': credentials.merchant,
    'x-paypath-timestamp': String(timestamp),
    'x-paypath-nonce': nonce,
    'x-paypath-signature': `v1=${createHmac('sha256', credentials.secret).update(signed).digest('hex')}`,
  };
}
