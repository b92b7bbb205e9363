import type { Context, MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { PaypathError, type ErrorCode } from '../../../core/errors.ts';
import type { Logger } from '../../../core/logger.ts';
import type { MerchantsConfig, RouteConfig } from '../../../core/policy/schema.ts';
import type { RateLimiter } from '../../../core/rate-limit/rate-limiter.ts';
import type { AppEnv } from '../../env.ts';
import { bufferedBody } from '../request-body/index.ts';
import { requestRoute, requestUrl } from '../../request-url.ts';
import { MERCHANT_ID_PATTERN, type MerchantKeyring } from './keyring.ts';
import type { NonceStore } from './nonce-store.ts';
import { MERCHANT_HEADERS, verifySignature } from './signature.ts';

export interface MerchantAuthOptions {
  /** The current keyring; undefined while the policy has no merchants section. */
  keys: () => MerchantKeyring | undefined;
  nonces: NonceStore;
  limiter: RateLimiter;
  logger: Logger;
  /** The client's network address, for limiting failed attempts per client. Default: unknown (one shared bucket). */
  clientAddress?: (c: Context<AppEnv>) => string | undefined;
  /** Default: Date.now. */
  now?: () => number;
}

const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
const TIMESTAMP_PATTERN = /^[0-9]{1,12}$/;

/** Whether a route requires merchant authentication under the current policy. */
export function routeNeedsMerchantAuth(
  route: RouteConfig,
  merchants: MerchantsConfig | undefined,
): boolean {
  return merchants !== undefined && (route.auth ?? 'merchant') === 'merchant';
}

/**
 * Merchant authentication for routes that require it (docs/security.md): an HMAC-SHA256
 * signature with timestamp and nonce, or a static API key; then the merchant's rate limit.
 * Every failure is a 401 with its own code, logged without any secret, and counted against the
 * client's failed-attempt bucket; a client over that bucket gets 429 before any verification.
 */
export function merchantAuth(options: MerchantAuthOptions): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  const { limiter, logger } = options;

  return async (c, next) => {
    const gateway = c.get('gateway');
    const merchants = gateway.policy.merchants;
    if (merchants === undefined) return next();
    const url = requestUrl(c);
    const route = requestRoute(c);
    if (route === undefined || !routeNeedsMerchantAuth(route, merchants)) return next();

    const client = options.clientAddress?.(c) ?? 'unknown';
    const failKey = `auth-fail:${client}`;
    const gate = await limiter.peek(failKey, merchants.failedAuth);
    if (!gate.allowed) {
      logger.warn(
        { event: 'merchant_auth_throttled', route: route.id, client },
        'too many failed authentication attempts from one client',
      );
      throw new PaypathError(
        'auth_rate_limited',
        429,
        'too many failed authentication attempts; try again later',
        {
          headers: { 'retry-after': String(gate.retryAfterSeconds) },
        },
      );
    }

    const claimed = c.req.header(MERCHANT_HEADERS.merchant);
    const fail = async (code: ErrorCode, message: string): Promise<PaypathError> => {
      await limiter.take(failKey, merchants.failedAuth);
      // The claimed id is logged only when it is a well-formed id, never a secret or signature.
      const merchant =
        claimed !== undefined && MERCHANT_ID_PATTERN.test(claimed)
          ? claimed
          : claimed === undefined
            ? null
            : '[malformed]';
      logger.warn(
        { event: 'merchant_auth_failed', code, route: route.id, merchant, client },
        `merchant authentication failed: ${code}`,
      );
      return new PaypathError(code, 401, message, {
        headers: {
          'www-authenticate': merchants.mode === 'hmac' ? 'PaypathSignature v1' : 'PaypathApiKey',
        },
      });
    };

    if (claimed === undefined)
      throw await fail(
        'auth_required',
        `this route needs merchant authentication (${MERCHANT_HEADERS.merchant} header missing)`,
      );
    const secret = MERCHANT_ID_PATTERN.test(claimed) ? options.keys()?.get(claimed) : undefined;

    if (merchants.mode === 'api-key') {
      const presented = c.req.header(MERCHANT_HEADERS.apiKey);
      if (presented === undefined)
        throw await fail(
          'auth_required',
          `this route needs merchant authentication (${MERCHANT_HEADERS.apiKey} header missing)`,
        );
      // Unknown merchant and wrong key look the same from outside (no merchant-id probing).
      const ok = await timingSafeEqual(secret ?? '\u0000no-such-merchant', presented);
      if (!ok || secret === undefined)
        throw await fail('signature_invalid', 'merchant id or API key is not valid');
    } else {
      const timestampText = c.req.header(MERCHANT_HEADERS.timestamp);
      const nonce = c.req.header(MERCHANT_HEADERS.nonce);
      const signature = c.req.header(MERCHANT_HEADERS.signature);
      if (timestampText === undefined || nonce === undefined || signature === undefined) {
        const missing = [
          timestampText === undefined ? MERCHANT_HEADERS.timestamp : '',
          nonce === undefined ? MERCHANT_HEADERS.nonce : '',
          signature === undefined ? MERCHANT_HEADERS.signature : '',
        ].filter(Boolean);
        throw await fail(
          'auth_required',
          `this route needs a signed request (missing ${missing.join(', ')})`,
        );
      }
      if (!TIMESTAMP_PATTERN.test(timestampText))
        throw await fail(
          'auth_malformed',
          `${MERCHANT_HEADERS.timestamp} must be Unix time in seconds`,
        );
      if (!NONCE_PATTERN.test(nonce))
        throw await fail(
          'auth_malformed',
          `${MERCHANT_HEADERS.nonce} must be 16 to 128 characters of A-Z a-z 0-9 _ -`,
        );
      const timestamp = Number(timestampText);
      const skewSeconds = Math.abs(now() / 1000 - timestamp);
      if (skewSeconds > merchants.clockSkewSeconds) {
        throw await fail(
          'signature_expired',
          `signature timestamp is more than ${merchants.clockSkewSeconds} s from the gateway's clock`,
        );
      }
      const body = await bufferedBody(c, route.maxBodyBytes);
      const parts = {
        method: c.req.method,
        target: url.pathname + url.search,
        timestamp,
        nonce,
        body,
      };
      const ok = await verifySignature(secret ?? '\u0000no-such-merchant', parts, signature);
      if (!ok || secret === undefined)
        throw await fail(
          'signature_invalid',
          'signature does not match (check the merchant id, key and signed string)',
        );
      // Only a valid signature may claim a nonce, so nobody can burn a merchant's nonces. A nonce
      // must be remembered for as long as its timestamp is acceptable: at most twice the skew.
      const fresh = await options.nonces.claim(
        claimed,
        nonce,
        2 * merchants.clockSkewSeconds * 1000,
      );
      if (!fresh)
        throw await fail(
          'nonce_replayed',
          'this nonce was already used: every request needs a new nonce',
        );
    }

    c.set('merchant', claimed);
    const limit = merchants.rateLimits[claimed] ?? merchants.rateLimit;
    if (limit !== undefined) {
      const taken = await limiter.take(`merchant:${claimed}`, limit);
      if (!taken.allowed) {
        logger.warn(
          { event: 'merchant_rate_limited', route: route.id, merchant: claimed },
          `merchant ${claimed} is over its rate limit`,
        );
        throw new PaypathError(
          'rate_limited',
          429,
          `merchant ${claimed} is over its rate limit of ${limit.ratePerSecond}/s (burst ${limit.burst})`,
          {
            headers: { 'retry-after': String(taken.retryAfterSeconds) },
            details: { retryAfterSeconds: taken.retryAfterSeconds },
          },
        );
      }
    }
    await next();
  };
}
