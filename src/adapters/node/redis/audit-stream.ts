import type { RedisClient } from './client.ts';
import type { AuditLog, AuditRecord } from '../../../core/admin/audit.ts';
import type { Logger } from '../../../core/logger.ts';

export const AUDIT_STREAM_KEY = 'paypath:audit';

export interface AuditStreamLimits {
  maxEntries: number;
  maxRecordBytes: number;
  memoryShare: number;
  memoryCheckMs: number;
}

/** Defaults documented in docs/ops.md ("Audit log"). */
export const AUDIT_STREAM_DEFAULTS: Readonly<AuditStreamLimits> = {
  /** Entries kept in the stream: each XADD trims the oldest beyond this. */
  maxEntries: 10_000,
  /** A record larger than this (JSON bytes) goes to the file whole; the stream keeps a stub. */
  maxRecordBytes: 8_192,
  /** Stream writes pause while Redis uses more than this share of its maxmemory. */
  memoryShare: 0.8,
  /** How often that is looked up (INFO memory), at most. */
  memoryCheckMs: 1_000,
};

export type AuditStreamOptions = Partial<AuditStreamLimits> & { key?: string };

/**
 * The audit log as a Redis stream (XADD, shared by every instance). The stream is bounded so it
 * can never crowd out what Redis is there for (the store-and-forward queue, idempotency records):
 * it keeps the newest `maxEntries` records, each at most `maxRecordBytes`, and writes nothing while
 * Redis is above `memoryShare` of its maxmemory. What the stream does not take goes to the fallback
 * log (the JSON lines file), as does every record while Redis is unreachable, so an admin action is
 * never blocked and never unrecorded.
 */
export class RedisStreamAuditLog implements AuditLog {
  readonly #redis: RedisClient;
  readonly #fallback: AuditLog;
  readonly #logger: Logger;
  readonly #key: string;
  readonly #options: AuditStreamLimits;
  #memoryCheckedAt = -Infinity;
  #memoryFull = false;

  constructor(
    redis: RedisClient,
    fallback: AuditLog,
    logger: Logger,
    options: AuditStreamOptions = {},
  ) {
    this.#redis = redis;
    this.#fallback = fallback;
    this.#logger = logger;
    const { key, ...limits } = options;
    this.#key = key ?? AUDIT_STREAM_KEY;
    this.#options = { ...AUDIT_STREAM_DEFAULTS, ...limits };
  }

  async append(record: AuditRecord): Promise<void> {
    try {
      if (await this.#redisNearlyFull()) {
        await this.#fallback.append(record);
        return;
      }
      let json = JSON.stringify(record);
      const bytes = Buffer.byteLength(json);
      if (bytes > this.#options.maxRecordBytes) {
        await this.#fallback.append(record);
        const stub: AuditRecord = {
          time: record.time,
          actor: record.actor,
          action: record.action,
          outcome: record.outcome,
          details: { truncated: true, bytes, whole: 'audit file' },
        };
        if (record.revision !== undefined) stub.revision = record.revision;
        json = JSON.stringify(stub);
      }
      await this.#redis.xadd(this.#key, 'MAXLEN', this.#options.maxEntries, '*', 'record', json);
    } catch (error) {
      this.#logger.warn(
        { event: 'audit_redis_failed', err: String(error), action: record.action },
        'audit record written to the fallback file: Redis unavailable',
      );
      await this.#fallback.append(record);
    }
  }

  /** Redis's used memory against its maxmemory (none set: never full), looked up at most every memoryCheckMs. */
  async #redisNearlyFull(): Promise<boolean> {
    const now = Date.now();
    if (now - this.#memoryCheckedAt < this.#options.memoryCheckMs) return this.#memoryFull;
    this.#memoryCheckedAt = now;
    const info = await this.#redis.info('memory');
    const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
    const max = Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0);
    const full = max > 0 && used > max * this.#options.memoryShare;
    if (full !== this.#memoryFull) {
      const fields = {
        event: full ? 'audit_redis_paused' : 'audit_redis_resumed',
        usedBytes: used,
        maxmemoryBytes: max,
      };
      if (full)
        this.#logger.warn(
          fields,
          `Redis is above ${this.#options.memoryShare * 100} % of its maxmemory: audit records go to the file, leaving the room to the queue`,
        );
      else this.#logger.info(fields, 'Redis has room again: audit records go to the stream');
    }
    this.#memoryFull = full;
    return full;
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
