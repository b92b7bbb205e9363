import type { RedisClient } from './client.ts';
import type { AuditLog, AuditRecord } from '../../../core/admin/audit.ts';
import type { Logger } from '../../../core/logger.ts';

export const AUDIT_STREAM_KEY = 'paypath:audit';

/**
 * The audit log as a Redis stream (XADD, never trimmed: append-only, shared by every instance).
 * When Redis cannot take a record, it goes to the fallback log (the JSON lines file) instead, so an
 * admin action is never blocked and never unrecorded.
 */
export class RedisStreamAuditLog implements AuditLog {
  readonly #redis: RedisClient;
  readonly #fallback: AuditLog;
  readonly #logger: Logger;
  readonly #key: string;

  constructor(redis: RedisClient, fallback: AuditLog, logger: Logger, key = AUDIT_STREAM_KEY) {
    this.#redis = redis;
    this.#fallback = fallback;
    this.#logger = logger;
    this.#key = key;
  }

  async append(record: AuditRecord): Promise<void> {
    try {
      await this.#redis.xadd(this.#key, '*', 'record', JSON.stringify(record));
    } catch (error) {
      this.#logger.warn({ event: 'audit_redis_failed', err: String(error), action: record.action }, 'audit record written to the fallback file: Redis unavailable');
      await this.#fallback.append(record);
    }
  }

  async recent(limit: number): Promise<AuditRecord[]> {
    try {
      const entries = await this.#redis.xrevrange(this.#key, '+', '-', 'COUNT', limit);
      return entries.flatMap(([, fields]) => {
        const index = fields.indexOf('record');
        try {
          return index >= 0 ? [JSON.parse(fields[index + 1]!) as AuditRecord] : [];
        } catch {
          return [];
        }
      });
    } catch {
      return this.#fallback.recent(limit);
    }
  }
}
