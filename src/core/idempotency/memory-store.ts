import { LRUCache } from 'lru-cache';
import type { ClaimResult, IdempotencyStore, StoredAnswer } from './store.ts';

interface InFlightRecord {
  fingerprint: string;
  token: string;
  expiresAt: number;
  bytes: number;
}

interface CompletedRecord {
  fingerprint: string;
  answer: StoredAnswer;
  expiresAt: number;
  bytes: number;
}

/** Default bound on records kept in memory (a day of traffic at ~1 payment/s, several times over). */
export const DEFAULT_MEMORY_IDEMPOTENCY_ENTRIES = 200_000;

/**
 * Default bound on the estimated bytes the records take: 64 MiB, about 100,000 typical payment
 * answers (~650 bytes each with their key, fingerprint and headers). The 200,000-record bound alone
 * let the store grow past 120 MB of heap. Not smaller: a dropped record shortens the window in
 * which a client's retry is answered from here rather than sent to the processor again.
 */
export const DEFAULT_MEMORY_IDEMPOTENCY_BYTES = 64 * 1024 * 1024;

/**
 * Largest share of `maxBytes` one record may take. A larger record is never stored whole (it would
 * push out many others before their TTL: one 70 MB answer emptied the whole store); only its
 * outcome is kept (see StoredAnswer.notKept).
 */
const MAX_RECORD_SHARE = 16;

/**
 * What one record costs beyond its strings, measured on Node 24 (the cache entry, the record and
 * answer objects, the headers arrays, the strings' own headers).
 */
const RECORD_OVERHEAD_BYTES = 256;

/**
 * Idempotency records of one instance, with lazy expiry (swept every 1000 claims). Completed
 * records are kept in an LRU cache (by completion); claims in flight apart from it, so eviction
 * never reaches them and their key can never be claimed twice at once. Past `maxEntries` records
 * or `maxBytes` (estimated), counting both, the oldest completed records are dropped early: memory
 * stays bounded, and a retry of a dropped key still goes to the processor with its key, whose
 * de-duplication answers it. A record larger than a sixteenth of `maxBytes` is refused whole: its
 * outcome is kept without the body, and no other record is dropped for it.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly kind = 'memory' as const;
  readonly #claims = new Map<string, InFlightRecord>();
  readonly #answers: LRUCache<string, CompletedRecord>;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxRecordBytes: number;
  readonly #onDroppedEarly: ((dropped: number) => void) | undefined;
  #claimBytes = 0;
  #droppedEarly = 0;
  #claimsSinceSweep = 0;

  constructor(
    options: {
      now?: () => number;
      maxEntries?: number;
      maxBytes?: number;
      /** Largest estimated bytes of one record; a larger answer keeps only its outcome. Default: maxBytes / 16. */
      maxRecordBytes?: number;
      /** Called with the running total each time completed records are dropped before their TTL to stay within the bounds. */
      onDroppedEarly?: (dropped: number) => void;
    } = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MEMORY_IDEMPOTENCY_ENTRIES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MEMORY_IDEMPOTENCY_BYTES;
    this.#maxRecordBytes = options.maxRecordBytes ?? Math.floor(this.#maxBytes / MAX_RECORD_SHARE);
    this.#onDroppedEarly = options.onDroppedEarly;
    this.#answers = new LRUCache({
      max: this.#maxEntries,
      maxSize: this.#maxBytes,
      sizeCalculation: (record) => record.bytes,
      dispose: (record, _key, reason) => {
        if (reason === 'evict' && record.expiresAt > this.#now()) this.#droppedEarly++;
      },
    });
  }

  /**
   * Largest answer body kept whole, in bytes: what fits in one record's share once base64 (4/3)
   * and the record's own costs are counted, so the idempotency middleware keeps no larger one.
   */
  get maxAnswerBytes(): number {
    const forKeyAndHeaders = Math.min(16 * RECORD_OVERHEAD_BYTES, this.#maxRecordBytes / 4);
    return Math.max(0, Math.floor(((this.#maxRecordBytes - forKeyAndHeaders) * 3) / 4));
  }

  get size(): number {
    return this.#claims.size + this.#answers.size;
  }

  /** Estimated bytes the records take (what `maxBytes` bounds). */
  get bytes(): number {
    return this.#claimBytes + this.#answers.calculatedSize;
  }

  /**
   * Completed records dropped before their TTL to stay within the bounds: a retry of such a key is
   * sent to the processor again instead of being answered here.
   */
  get droppedBeforeExpiry(): number {
    return this.#droppedEarly;
  }

  async claim(key: string, fingerprint: string, claimTtlMs: number): Promise<ClaimResult> {
    if (++this.#claimsSinceSweep >= 1_000) this.#sweep();
    const now = this.#now();
    const inFlight = this.#claims.get(key);
    const completed = inFlight ? undefined : this.#answers.peek(key);
    const existing = inFlight ?? completed;
    if (existing && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint)
        return { kind: 'mismatch', fingerprint: existing.fingerprint };
      return completed ? { kind: 'completed', answer: completed.answer } : { kind: 'in_flight' };
    }
    if (inFlight) this.#deleteClaim(key);
    if (completed) this.#answers.delete(key);
    const token = crypto.randomUUID();
    const bytes = RECORD_OVERHEAD_BYTES + 2 * key.length + fingerprint.length + token.length;
    this.#claims.set(key, { fingerprint, token, expiresAt: now + claimTtlMs, bytes });
    this.#claimBytes += bytes;
    this.#evictOverLimits();
    return { kind: 'claimed', token };
  }

  async complete(
    key: string,
    token: string,
    answer: StoredAnswer,
    ttlMs: number,
  ): Promise<boolean> {
    const existing = this.#claims.get(key);
    if (!existing || existing.token !== token) return false;
    let kept = answer;
    let bytes = this.#recordBytes(key, existing.fingerprint, kept);
    if (bytes > this.#maxRecordBytes) {
      kept = { status: answer.status, headers: [], bodyBase64: '', notKept: 'too_large' };
      bytes = this.#recordBytes(key, existing.fingerprint, kept);
    }
    const droppedBefore = this.#droppedEarly;
    this.#deleteClaim(key);
    this.#answers.set(key, {
      fingerprint: existing.fingerprint,
      answer: kept,
      expiresAt: this.#now() + ttlMs,
      bytes,
    });
    // The cache refuses a record larger than the whole store: it counts as dropped at once.
    if (!this.#answers.has(key)) this.#droppedEarly++;
    this.#evictOverLimits(droppedBefore);
    return true;
  }

  async release(key: string, token: string): Promise<boolean> {
    const existing = this.#claims.get(key);
    if (!existing || existing.token !== token) return false;
    this.#deleteClaim(key);
    return true;
  }

  #recordBytes(key: string, fingerprint: string, answer: StoredAnswer): number {
    let bytes =
      RECORD_OVERHEAD_BYTES + 2 * key.length + fingerprint.length + answer.bodyBase64.length;
    for (const [name, value] of answer.headers) bytes += name.length + value.length + 32;
    return bytes;
  }

  #deleteClaim(key: string): void {
    const existing = this.#claims.get(key);
    if (existing === undefined) return;
    this.#claimBytes -= existing.bytes;
    this.#claims.delete(key);
  }

  #overLimits(): boolean {
    return this.size > this.#maxEntries || this.bytes > this.#maxBytes;
  }

  /** Expired claims first, then completed records, oldest first (claims in flight end by themselves within their claim TTL). */
  #evictOverLimits(droppedBefore = this.#droppedEarly): void {
    if (this.#overLimits()) {
      const now = this.#now();
      for (const [key, record] of this.#claims) if (record.expiresAt <= now) this.#deleteClaim(key);
      while (this.#overLimits() && this.#answers.size > 0) this.#answers.pop();
    }
    if (this.#droppedEarly > droppedBefore) this.#onDroppedEarly?.(this.#droppedEarly);
  }

  #sweep(): void {
    this.#claimsSinceSweep = 0;
    const now = this.#now();
    for (const [key, record] of this.#claims) if (record.expiresAt <= now) this.#deleteClaim(key);
    const expired: string[] = [];
    for (const [key, record] of this.#answers.entries())
      if (record.expiresAt <= now) expired.push(key);
    for (const key of expired) this.#answers.delete(key);
  }
}
