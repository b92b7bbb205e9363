import type { MiddlewareHandler } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import { isFinalAnswer } from '../../../core/idempotency/final-answer.ts';
import {
  isLegacyFingerprint,
  legacyRequestFingerprint,
  requestFingerprint,
  type Sha256Hex,
} from '../../../core/idempotency/fingerprint.ts';
import { decodeBase64, encodeBase64 } from '../../../core/base64.ts';
import type {
  ClaimResult,
  IdempotencyStore,
  StoredAnswer,
} from '../../../core/idempotency/store.ts';
import { silentLogger, type Logger } from '../../../core/logger.ts';
import type { ProxyEnv } from '../../env.ts';
import { joinChunks } from '../../read-body.ts';

export interface IdempotencyMiddlewareOptions {
  store: IdempotencyStore | undefined;
  logger?: Logger;
  /** Hash for request fingerprints. Default: Web Crypto SHA-256. */
  sha256?: Sha256Hex;
}

/** Safe methods change nothing, so there is nothing to de-duplicate. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Stripe-style idempotency in front of the proxy (docs/exactly-once.md, Idempotency keys):
 * - claims the key with a fingerprint of method, path and query, and canonical body: a key belongs to
 *   one exact request;
 * - a completed key replays its stored status, chosen headers and body byte for byte
 *   (`Idempotent-Replayed: true`), with no upstream call;
 * - a key in flight → 409 idempotency_key_in_use; a key used for another request → 422 idempotency_key_reused;
 * - a final answer larger than idempotencyStore.maxAnswerBytes (or than the store keeps) streams to
 *   the client (`x-paypath-answer-stored: false`) and only its outcome is kept: a retry with the key gets
 *   409 idempotency_answer_not_stored and is never sent again (docs/exactly-once.md);
 * - only final answers are stored (see isFinalAnswer); anything else, gateway errors such as
 *   outcome_unknown included, releases the claim so the retry asks the processor again under the same key;
 * - a store that throws never stops a payment: the request goes on without a claim (the key
 *   still reaches the processor). The Node runtime's Redis store does not throw: it is backed by
 *   this instance's memory (FallbackIdempotencyStore), so one instance never sends a key twice;
 * - a key paypath generated is not recorded when the processor de-duplicates by key (`upstreamHonors`):
 *   no other request can carry it while it is in flight, and a client that later sends it back is
 *   answered by the processor's own record of it, so a record here would only cost memory and a
 *   store round trip per keyless request (Stripe keeps nothing for a request without a key).
 */
export function idempotency(options: IdempotencyMiddlewareOptions): MiddlewareHandler<ProxyEnv> {
  const logger = options.logger ?? silentLogger;
  return async (c, next) => {
    const store = options.store;
    const { route, idempotencyKey: key, generatedKey, upstream } = c.get('proxy');
    if (
      !store ||
      SAFE_METHODS.has(upstream.method) ||
      (generatedKey && route.idempotency.upstreamHonors)
    )
      return next();
    const settings = c.get('gateway').policy.idempotencyStore;

    let claim: ClaimResult;
    try {
      const fingerprint = await requestFingerprint(
        {
          method: upstream.method,
          target: upstream.target,
          contentType: upstream.headers.get('content-type'),
          body: upstream.body,
        },
        options.sha256,
      );
      claim = await store.claim(key, fingerprint, route.deadlineMs + settings.lockGraceMs);
    } catch (error) {
      logger.warn(
        {
          event: 'idempotency_store_unavailable',
          store: store.kind,
          route: route.id,
          err: { message: (error as Error).message },
        },
        'idempotency store unreachable; forwarding without a claim (only the processor can de-duplicate it)',
      );
      return next();
    }

    if (claim.kind === 'completed') {
      if (claim.answer.notKept !== undefined) throw answerNotStored(key, claim.answer.status);
      return replay(claim.answer, route.idempotency.header, key);
    }
    if (claim.kind === 'in_flight') {
      throw new PaypathError(
        'idempotency_key_in_use',
        409,
        'a request with this idempotency key is still being processed; retry later',
        {
          details: { idempotencyKey: key },
          headers: { 'retry-after': '1' },
        },
      );
    }
    if (claim.kind === 'mismatch') {
      if (isLegacyFingerprint(claim.fingerprint)) {
        const legacy = await legacyRequestFingerprint(
          upstream.method,
          route.id,
          upstream.headers.get('content-type'),
          upstream.body,
          options.sha256,
        );
        // Same method, route and body: maybe this very request, maybe another path or query under
        // the key. Never replayed. On an exact-path route the original's path was the route's, so a
        // request without a query may go to a processor that de-duplicates by key: it saw the
        // original and decides. Under a prefix (one capture or another) or with a query, refused.
        const pathKnown = route.match.path !== undefined && !upstream.target.includes('?');
        if (legacy === claim.fingerprint && pathKnown && route.idempotency.upstreamHonors) {
          logger.info(
            { event: 'idempotency_legacy_record', route: route.id },
            'key recorded by an earlier version without its path and query; forwarding without a claim (the processor de-duplicates by key)',
          );
          return next();
        }
        if (legacy === claim.fingerprint) {
          throw new PaypathError(
            'idempotency_key_reused',
            422,
            'this idempotency key was recorded by an earlier paypath version, which did not record the path and query, so this request cannot be shown to be the same one; it was not sent',
            { details: { idempotencyKey: key, reason: 'recorded_before_upgrade' } },
          );
        }
      }
      throw new PaypathError(
        'idempotency_key_reused',
        422,
        'this idempotency key was already used for a different request (method, path, query or body); use a new key',
        { details: { idempotencyKey: key } },
      );
    }

    const token = claim.token;
    const release = async () => {
      await store.release(key, token).catch((error: unknown) => {
        logger.warn(
          { event: 'idempotency_release_failed', err: { message: (error as Error).message } },
          'could not release idempotency claim; it expires by itself',
        );
      });
    };
    try {
      await next();
    } catch (error) {
      await release();
      throw error;
    }
    if (c.error !== undefined || !isFinalAnswer(c.res.status)) {
      await release();
      return;
    }

    // A final answer: buffer it so exactly these bytes can be replayed. An answer the proxy built
    // from whole bytes is sent as it is; any other is read here (up to the record limit) and sent
    // from the bytes read. A larger one is never held whole: it streams on, and only its outcome is kept.
    const response = c.res;
    const answered = c.get('answer');
    // Only while it is still the answer: middleware after the proxy may have replaced it.
    const known = answered?.response === response ? answered.bytes : undefined;
    const limit = Math.min(
      settings.maxAnswerBytes,
      store.maxAnswerBytes ?? Number.POSITIVE_INFINITY,
    );
    let read: BoundedRead;
    try {
      read =
        known !== undefined ? { whole: known, rest: undefined } : await readUpTo(response, limit);
    } catch (error) {
      await release();
      throw new PaypathError(
        'outcome_unknown',
        502,
        'the processor began answering but the answer was cut off; it may have been processed. Retry with the same idempotency key to learn the outcome.',
        { details: { idempotencyKey: key }, cause: error },
      );
    }
    const keep = new Set([
      ...route.idempotency.replayHeaders.map((h) => h.toLowerCase()),
      route.idempotency.header.toLowerCase(),
    ]);
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      if (keep.has(name)) headers.push([name, value]);
    });
    const body = read.whole;
    const tooLarge = body === undefined || body.byteLength > limit;
    const answer: StoredAnswer = tooLarge
      ? { status: response.status, headers, bodyBase64: '', notKept: 'too_large' }
      : { status: response.status, headers, bodyBase64: encodeBase64(body) };
    if (tooLarge) {
      logger.warn(
        { event: 'idempotency_answer_not_stored', route: route.id, status: response.status, limit },
        `a final answer larger than ${limit} bytes was streamed to the client and not kept; a retry with its key is refused (409 idempotency_answer_not_stored)`,
      );
    }
    await store.complete(key, token, answer, settings.ttlMs).catch((error: unknown) => {
      logger.warn(
        { event: 'idempotency_store_failed', err: { message: (error as Error).message } },
        'could not store the answer; a retry asks the processor again',
      );
    });
    if (known !== undefined && !tooLarge) return;
    const outgoing = new Headers(response.headers);
    if (tooLarge) outgoing.set('x-paypath-answer-stored', 'false');
    const sent = body !== undefined ? body : read.rest!;
    c.res = undefined as unknown as Response; // replace, not merge: the headers are already on the new response
    c.res = new Response(
      body !== undefined && body.byteLength === 0 && nullBody(response.status) ? null : sent,
      { status: response.status, headers: outgoing },
    );
  };
}

/** An answer read whole (`whole`), or, past the limit, a stream of all of it (`rest`): what was read, then the remainder. */
type BoundedRead =
  { whole: Uint8Array; rest: undefined } | { whole: undefined; rest: ReadableStream<Uint8Array> };

/**
 * Reads an answer's body while it stays within `limit` bytes. A larger one (by its content-length,
 * or once more than `limit` arrived) is handed back as a stream that replays the chunks read so
 * far and then pulls the rest from upstream as the client takes it (no more than one chunk ahead).
 */
async function readUpTo(response: Response, limit: number): Promise<BoundedRead> {
  if (response.body === null) return { whole: new Uint8Array(0), rest: undefined };
  if (Number(response.headers.get('content-length') ?? NaN) > limit)
    return { whole: undefined, rest: response.body };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { whole: joinChunks(chunks, total) ?? new Uint8Array(0), rest: undefined };
    chunks.push(value);
    total += value.byteLength;
    if (total > limit) break;
  }
  const rest = new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        const next = chunks.shift();
        if (next !== undefined) return controller.enqueue(next);
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return { whole: undefined, rest };
}

/** 409 for a key whose request completed with an answer too large to keep: it is never sent again. */
function answerNotStored(key: string, status: number): PaypathError {
  return new PaypathError(
    'idempotency_answer_not_stored',
    409,
    `the request with this idempotency key was processed (the processor answered ${status}) but its answer was too large to keep for replay; it is not sent again. Look the outcome up at the processor, or use a new key for a new request`,
    { details: { idempotencyKey: key, status } },
  );
}

function replay(answer: StoredAnswer, keyHeader: string, key: string): Response {
  const headers = new Headers(answer.headers);
  headers.set(keyHeader, key);
  headers.set('idempotent-replayed', 'true');
  const body = decodeBase64(answer.bodyBase64);
  return new Response(nullBody(answer.status) ? null : body, { status: answer.status, headers });
}

function nullBody(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}
