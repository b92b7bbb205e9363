import { silentLogger, type Logger } from '../logger.ts';
import type { MemoryIdempotencyStore } from './memory-store.ts';
import type { ClaimResult, IdempotencyStore, StoredAnswer } from './store.ts';

/** Joins the local and the shared claim's tokens into the one token the caller holds (UUIDs have no space). */
const SEPARATOR = ' ';

/**
 * A shared store (Redis) backed by this instance's memory, so Redis trouble neither stops a
 * payment nor lets a retry of it through on this instance, whether the processor de-duplicates
 * or not:
 * - every claim is taken here first: a key in flight or completed here is answered here, without
 *   asking the shared store. So this instance never sends one key twice at once, however Redis
 *   comes and goes (a claim taken in Redis before it went away, or here while it was away and still
 *   in flight after it returned empty);
 * - then in the shared store, which answers for the other instances; while it cannot be reached,
 *   the local claim alone stands;
 * - an answer goes to the shared store, and stays here only when the shared store could not take it
 *   (unreachable, or its claim was lost), so a retry on this instance is replayed. Otherwise the
 *   shared store is authoritative and this one keeps nothing.
 * Other instances know nothing of what is kept here (docs/exactly-once.md).
 */
export class FallbackIdempotencyStore implements IdempotencyStore {
  readonly #shared: IdempotencyStore;
  readonly #local: MemoryIdempotencyStore;
  readonly #logger: Logger;

  constructor(shared: IdempotencyStore, local: MemoryIdempotencyStore, logger = silentLogger) {
    this.#shared = shared;
    this.#local = local;
    this.#logger = logger;
  }

  get kind(): IdempotencyStore['kind'] {
    return this.#shared.kind;
  }

  get maxAnswerBytes(): number | undefined {
    return this.#shared.maxAnswerBytes;
  }

  async claim(key: string, fingerprint: string, claimTtlMs: number): Promise<ClaimResult> {
    const local = await this.#local.claim(key, fingerprint, claimTtlMs);
    if (local.kind !== 'claimed') return local;
    let shared: ClaimResult;
    try {
      shared = await this.#shared.claim(key, fingerprint, claimTtlMs);
    } catch (error) {
      this.#logger.warn(
        {
          event: 'idempotency_store_unavailable',
          store: this.#shared.kind,
          fallback: 'memory',
          err: { message: (error as Error).message },
        },
        'idempotency store unreachable; the key is claimed in this instance only',
      );
      return local;
    }
    if (shared.kind !== 'claimed') {
      await this.#local.release(key, local.token);
      return shared;
    }
    return { kind: 'claimed', token: `${local.token}${SEPARATOR}${shared.token}` };
  }

  async complete(
    key: string,
    token: string,
    answer: StoredAnswer,
    ttlMs: number,
  ): Promise<boolean> {
    const { local, shared } = splitToken(token);
    if (shared !== undefined) {
      try {
        if (await this.#shared.complete(key, shared, answer, ttlMs))
          return this.#local.release(key, local);
      } catch (error) {
        this.#logger.warn(
          {
            event: 'idempotency_store_failed',
            store: this.#shared.kind,
            fallback: 'memory',
            err: { message: (error as Error).message },
          },
          'could not store the answer in the idempotency store; kept in this instance only',
        );
      }
    }
    return this.#local.complete(key, local, answer, ttlMs);
  }

  async release(key: string, token: string): Promise<boolean> {
    const { local, shared } = splitToken(token);
    // The local claim goes last, so this instance refuses a retry until the shared one is gone.
    let released = true;
    try {
      if (shared !== undefined) released = await this.#shared.release(key, shared);
    } finally {
      released = (await this.#local.release(key, local)) && released;
    }
    return released;
  }

  async close(): Promise<void> {
    await this.#shared.close?.();
  }
}

function splitToken(token: string): { local: string; shared: string | undefined } {
  const at = token.indexOf(SEPARATOR);
  return at < 0
    ? { local: token, shared: undefined }
    : { local: token.slice(0, at), shared: token.slice(at + SEPARATOR.length) };
}
