import type { ClaimResult, IdempotencyStore, StoredAnswer } from './store.ts';

type MemoryRecord =
  | { state: 'in_flight'; fingerprint: string; token: string; expiresAt: number; bytes: number }
  | { state: 'completed'; fingerprint: string; answer: StoredAnswer; expiresAt: number; bytes: number };

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
 * What one record costs beyond its strings, measured on Node 24 (the Map entry, the record and
 * answer objects, the headers arrays, the strings' own headers).
 */
const RECORD_OVERHEAD_BYTES = 256;

/**
 * Idempotency records of one instance, in a Map with lazy expiry (swept every 1000 claims). Past
 * `maxEntries` records or `maxBytes` (estimated), the oldest completed records are dropped early:
 * memory stays bounded, and a retry of a dropped key still goes to the processor with its key,
 * whose de-duplication answers it. A claim in flight is never dropped, so its key can never be
 * claimed twice at once. A record larger than a sixteenth of `maxBytes` is refused whole: its
 * outcome is kept without the body, and no other record is dropped for it.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly kind = 'memory' as const;
  readonly #records = new Map<string, MemoryRecord>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxRecordBytes: number;
  readonly #onDroppedEarly: ((dropped: number) => void) | undefined;
  #bytes = 0;
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
    return this.#records.size;
  }

  /** Estimated bytes the records take (what `maxBytes` bounds). */
  get bytes(): number {
    return this.#bytes;
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
    const existing = this.#records.get(key);
    if (existing && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) return { kind: 'mismatch', fingerprint: existing.fingerprint };
      return existing.state === 'completed' ? { kind: 'completed', answer: existing.answer } : { kind: 'in_flight' };
    }
    const token = crypto.randomUUID();
    this.#delete(key); // re-inserted last, so Map order stays oldest first
    this.#set(key, { state: 'in_flight', fingerprint, token, expiresAt: now + claimTtlMs, bytes: RECORD_OVERHEAD_BYTES + 2 * key.length + fingerprint.length + token.length });
    this.#evictOverLimits();
    return { kind: 'claimed', token };
  }

  async complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<boolean> {
    const existing = this.#records.get(key);
    if (!existing || existing.state !== 'in_flight' || existing.token !== token) return false;
    let kept = answer;
    let bytes = this.#recordBytes(key, existing.fingerprint, kept);
    if (bytes > this.#maxRecordBytes) {
      kept = { status: answer.status, headers: [], bodyBase64: '', notKept: 'too_large' };
      bytes = this.#recordBytes(key, existing.fingerprint, kept);
    }
    this.#set(key, { state: 'completed', fingerprint: existing.fingerprint, answer: kept, expiresAt: this.#now() + ttlMs, bytes });
    this.#evictOverLimits();
    return true;
  }

  async release(key: string, token: string): Promise<boolean> {
    const existing = this.#records.get(key);
    if (!existing || existing.state !== 'in_flight' || existing.token !== token) return false;
    this.#delete(key);
    return true;
  }

  #recordBytes(key: string, fingerprint: string, answer: StoredAnswer): number {
    let bytes = RECORD_OVERHEAD_BYTES + 2 * key.length + fingerprint.length + answer.bodyBase64.length;
    for (const [name, value] of answer.headers) bytes += name.length + value.length + 32;
    return bytes;
  }

  /** Replaces the key's record in place (an existing key keeps its position in the Map). */
  #set(key: string, record: MemoryRecord): void {
    this.#bytes += record.bytes - (this.#records.get(key)?.bytes ?? 0);
    this.#records.set(key, record);
  }

  #delete(key: string): void {
    const existing = this.#records.get(key);
    if (existing === undefined) return;
    this.#bytes -= existing.bytes;
    this.#records.delete(key);
  }

  #overLimits(): boolean {
    return this.#records.size > this.#maxEntries || this.#bytes > this.#maxBytes;
  }

  /** Oldest first; in-flight claims are skipped (they end by themselves within their claim TTL). */
  #evictOverLimits(): void {
    if (!this.#overLimits()) return;
    const now = this.#now();
    const droppedBefore = this.#droppedEarly;
    for (const [key, record] of this.#records) {
      if (!this.#overLimits()) break;
      if (record.state === 'completed' && record.expiresAt > now) this.#droppedEarly++;
      if (record.state === 'completed' || record.expiresAt <= now) this.#delete(key);
    }
    if (this.#droppedEarly > droppedBefore) this.#onDroppedEarly?.(this.#droppedEarly);
  }

  #sweep(): void {
    this.#claimsSinceSweep = 0;
    const now = this.#now();
    for (const [key, record] of this.#records) if (record.expiresAt <= now) this.#delete(key);
  }
}
