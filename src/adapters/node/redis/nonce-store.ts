import type { RedisClient } from './client.ts';
import type { Logger } from '../../../core/logger.ts';
import {
  MemoryNonceStore,
  type NonceStore,
} from '../../../http/middleware/merchant-auth/nonce-store.ts';
import { DegradedWindow } from './degraded-window.ts';

/**
 * Nonces shared by every instance: `SET key 1 NX PX ttl` succeeds only for the first claim.
 * When Redis fails, claims go to this instance's memory (a replay to another instance is then
 * caught only by the processor's idempotency key); a payment is never blocked by Redis.
 */
export class RedisNonceStore implements NonceStore {
  readonly #redis: RedisClient;
  readonly #local = new MemoryNonceStore();
  readonly #window: DegradedWindow;
  readonly #prefix: string;

  constructor(redis: RedisClient, logger: Logger, prefix = 'paypath:nonce:') {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#window = new DegradedWindow('nonce store', logger);
  }

  async claim(merchantId: string, nonce: string, ttlMs: number): Promise<boolean> {
    // Remember locally too, so a replay inside this instance is caught even while Redis is away.
    const local = await this.#local.claim(merchantId, nonce, ttlMs);
    if (this.#window.skipping) return local;
    try {
      const result = await this.#redis.set(
        `${this.#prefix}${merchantId}:${nonce}`,
        '1',
        'PX',
        ttlMs,
        'NX',
      );
      this.#window.succeeded();
      return result === 'OK' && local;
    } catch (error) {
      this.#window.failed(error);
      return local;
    }
  }
}
