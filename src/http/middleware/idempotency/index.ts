import type { MiddlewareHandler } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import { isFinalAnswer } from '../../../core/idempotency/final-answer.ts';
import { isLegacyFingerprint, legacyRequestFingerprint, requestFingerprint, type Sha256Hex } from '../../../core/idempotency/fingerprint.ts';
import { decodeBase64, encodeBase64, type ClaimResult, type IdempotencyStore, type StoredAnswer } from '../../../core/idempotency/store.ts';
import { silentLogger, type Logger } from '../../../core/logger.ts';
import type { ProxyEnv } from '../../proxy-context.ts';

export interface IdempotencyMiddlewareOptions {
  store: IdempotencyStore | undefined;
  logger?: Logger;
  /** Hash for request fingerprints. Default: Web Crypto SHA-256. */
  sha256?: Sha256Hex;
}

/** Safe methods change nothing, so there is nothing to de-duplicate. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Stripe-style idempotency in front of the proxy (DESIGN.md, Idempotency):
 * - claims the key with a fingerprint of method, path and query, and canonical body: a key belongs to
 *   one exact request;
 * - a completed key replays its stored status, chosen headers and body byte for byte
 *   (`Idempotent-Replayed: true`), with no upstream call;
 * - a key in flight → 409 idempotency_key_in_use; a key used for another request → 422 idempotency_key_reused;
 * - only final answers are stored (see isFinalAnswer); anything else, gateway errors such as
 *   outcome_unknown included, releases the claim so the retry asks the processor again under the same key;
 * - a store that cannot be reached never stops a payment: the request goes on without a claim
 *   (the key still reaches the processor, whose own de-duplication protects it);
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
    if (!store || SAFE_METHODS.has(upstream.method) || (generatedKey && route.idempotency.upstreamHonors)) return next();
    const settings = c.get('gateway').policy.idempotencyStore;

    let claim: ClaimResult;
    try {
      const fingerprint = await requestFingerprint(
        { method: upstream.method, target: upstream.target, contentType: upstream.headers.get('content-type'), body: upstream.body },
        options.sha256,
      );
      claim = await store.claim(key, fingerprint, route.deadlineMs + settings.lockGraceMs);
    } catch (error) {
      logger.warn(
        { event: 'idempotency_store_unavailable', store: store.kind, route: route.id, err: { message: (error as Error).message } },
        'idempotency store unreachable; forwarding without a claim (the processor de-duplicates by key)',
      );
      return next();
    }

    if (claim.kind === 'completed') return replay(claim.answer, route.idempotency.header, key);
    if (claim.kind === 'in_flight') {
      throw new PaypathError('idempotency_key_in_use', 409, 'a request with this idempotency key is still being processed; retry later', {
        details: { idempotencyKey: key },
        headers: { 'retry-after': '1' },
      });
    }
    if (claim.kind === 'mismatch') {
      if (isLegacyFingerprint(claim.fingerprint)) {
        const legacy = await legacyRequestFingerprint(upstream.method, route.id, upstream.headers.get('content-type'), upstream.body, options.sha256);
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
        logger.warn({ event: 'idempotency_release_failed', err: { message: (error as Error).message } }, 'could not release idempotency claim; it expires by itself');
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
    // from whole bytes is sent as it is; any other is read here and sent from the bytes read.
    const response = c.res;
    const answered = c.get('answer');
    // Only while it is still the answer: middleware after the proxy may have replaced it.
    const known = answered?.response === response ? answered.bytes : undefined;
    let body: Uint8Array;
    try {
      body = known ?? new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      await release();
      throw new PaypathError(
        'outcome_unknown',
        502,
        'the processor began answering but the answer was cut off; it may have been processed. Retry with the same idempotency key to learn the outcome.',
        { details: { idempotencyKey: key }, cause: error },
      );
    }
    const keep = new Set([...route.idempotency.replayHeaders.map((h) => h.toLowerCase()), route.idempotency.header.toLowerCase()]);
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      if (keep.has(name)) headers.push([name, value]);
    });
    const answer: StoredAnswer = { status: response.status, headers, bodyBase64: encodeBase64(body) };
    await store.complete(key, token, answer, settings.ttlMs).catch((error: unknown) => {
      logger.warn({ event: 'idempotency_store_failed', err: { message: (error as Error).message } }, 'could not store the answer; a retry asks the processor again');
    });
    if (known !== undefined) return;
    c.res = undefined as unknown as Response; // replace, not merge: the headers are already on the new response
    c.res = new Response(body.byteLength === 0 && nullBody(response.status) ? null : body, { status: response.status, headers: response.headers });
  };
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
