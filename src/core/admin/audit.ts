/**
 * The audit trail: one record per admin action and per failed authentication. Append-only.
 * Records never hold a secret: actors are token names, never tokens.
 */
export interface AuditRecord {
  /** ISO time. */
  time: string;
  /** Token name, `file:<policy file>`, `scheduler`, or `anonymous` for a failed authentication. */
  actor: string;
  /** e.g. `auth.failed`, `policy.apply`, `policy.rollback`, `policy.reload`, `drill.start`, `drill.end`. */
  action: string;
  outcome: 'ok' | 'denied' | 'rejected' | 'failed' | 'refused';
  /** Policy revision the action produced or concerned. */
  revision?: number;
  /** Structured policy diff for policy changes. */
  diff?: unknown;
  /** Anything else worth keeping (error codes, drill results, remote address). */
  details?: Record<string, unknown>;
}

export interface AuditLog {
  /** Never rejects: an audit sink in trouble reports through its own logger, it does not stop the action. */
  append(record: AuditRecord): Promise<void>;
  /** Newest first. */
  recent(limit: number): Promise<AuditRecord[]>;
}

/** Bounded in-memory audit log, for tests and runtimes without a file system. */
export class MemoryAuditLog implements AuditLog {
  readonly records: AuditRecord[] = [];
  readonly #kept: number;
  constructor(kept = 1_000) {
    this.#kept = kept;
  }
  async append(record: AuditRecord): Promise<void> {
    this.records.push(record);
    if (this.records.length > this.#kept) this.records.shift();
  }
  async recent(limit: number): Promise<AuditRecord[]> {
    return this.records.slice(-limit).reverse();
  }
}
