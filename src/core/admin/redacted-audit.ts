import { scrubDeep } from '../redact.ts';
import type { AuditLog, AuditRecord } from './audit.ts';

/** The record as it may be kept: card numbers and security codes masked in every field (src/core/redact.ts). */
export function redactAuditRecord(record: AuditRecord): AuditRecord {
  return scrubDeep(record) as AuditRecord;
}

/**
 * The one place audit records are redacted, in front of whichever sink keeps them (memory, the
 * JSON lines file, the Redis stream and its file fallback). An admin request's path, a policy
 * diff or an error message can carry whatever a client typed, card numbers included. Records
 * read back are redacted again, for ones written before this existed.
 */
export class RedactedAuditLog implements AuditLog {
  readonly #inner: AuditLog;

  constructor(inner: AuditLog) {
    this.#inner = inner;
  }

  append(record: AuditRecord): Promise<void> {
    return this.#inner.append(redactAuditRecord(record));
  }

  async recent(limit: number): Promise<AuditRecord[]> {
    return (await this.#inner.recent(limit)).map(redactAuditRecord);
  }
}
