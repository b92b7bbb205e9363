import type { AttemptErrorCode } from '../attempt-error.ts';
import { attribute, chargeDeferred, type AttemptFacts } from '../breaker/attribution.ts';
import { BreakerOpenError } from '../breaker/breaker.ts';
import type { RouteConfig } from '../policy/schema.ts';
import { discardBody, type UpstreamRequest, type UpstreamResponse } from '../transport.ts';
import { attemptTimeoutMs, sendAttempt, type Attempt } from './attempt.ts';
import { CandidateCursor } from './candidates.ts';
import { deadlineExceeded, noPathAvailable, outcomeUnknown } from './failure-answers.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';
import type { AttemptOutcome, AttemptRecord, ForwardOptions, ForwardResult } from './types.ts';

/** How recent another path's answer must be for a timeout to count as this path's fault in the retry budget. */
export const RECENT_ANSWER_MS = 10_000;

/** Pause before asking again when the processor says our own key is still in use (409 key_in_use). */
export const KEY_IN_USE_RETRY_MS = 50;

/**
 * Sends a request over the route's paths in order, one attempt at a time, and fails over by what
 * reached the wire (README.md, "How a payment travels"):
 * - not sent (connect failure, breaker open): next path at once;
 * - sent without an answer: next path only when the route's processor honours idempotency keys
 *   (the same key goes out on every attempt); otherwise `outcome_unknown`, never re-sent;
 * - answered: 2xx-4xx returned as is; 5xx/429 count against the path and fail over only when retry-safe.
 * Whether an attempt charges its path is attribute()'s to say (breaker/attribution.ts).
 */
export async function forwardWithFailover(
  route: RouteConfig,
  request: UpstreamRequest,
  paths: ReadonlyMap<string, PathRuntime>,
  options: ForwardOptions,
): Promise<ForwardResult> {
  const end = options.retryBudget?.begin();
  const slots: (() => void)[] = [];
  try {
    return await forwardAttempts(route, request, paths, options, slots);
  } finally {
    end?.();
    for (const release of slots) release();
  }
}

async function forwardAttempts(
  route: RouteConfig,
  request: UpstreamRequest,
  paths: ReadonlyMap<string, PathRuntime>,
  options: ForwardOptions,
  retrySlots: (() => void)[],
): Promise<ForwardResult> {
  /** A re-send that may load a struggling processor needs the retry budget; one slot covers all of this request's re-sends. */
  const mayResend = (): boolean => {
    if (!options.retryBudget || retrySlots.length > 0) return true;
    const slot = options.retryBudget.acquire();
    if (slot) retrySlots.push(slot);
    return slot !== undefined;
  };
  /** Timeouts excused for now (attribute() said `defer`); judged once another path answers this request. */
  const deferred: { path: PathRuntime; startedAt: number }[] = [];
  const settleDeferred = (winner: PathRuntime) => {
    for (const { path: p, startedAt } of deferred) {
      const answeredSinceAttempt = (p.lastAnsweredAt ?? Number.NEGATIVE_INFINITY) >= startedAt;
      if (chargeDeferred({ answeredThisRequest: p === winner, answeredSinceAttempt }))
        p.breaker.recordFailure('link');
    }
  };
  const now = options.now ?? Date.now;
  const deadlineAt = now() + route.deadlineMs;
  const retrySafe = route.idempotency.upstreamHonors;
  const cursor = new CandidateCursor(
    route.paths.map((id) => paths.get(id)).filter((p): p is PathRuntime => p !== undefined),
  );
  const attempts: AttemptRecord[] = [];
  const record = (
    path: PathRuntime,
    outcome: AttemptOutcome,
    code: string,
    startedAt: number,
    status?: number,
  ): AttemptRecord => {
    const entry: AttemptRecord = {
      pathId: path.config.id,
      outcome,
      code,
      status,
      durationMs: now() - startedAt,
    };
    path.recordAttempt(entry);
    attempts.push(entry);
    return entry;
  };
  /** A call the breaker did not run: a connect that failed while hedging. */
  const chargeOutside = (path: PathRuntime, facts: AttemptFacts) => {
    const verdict = attribute(facts);
    if (verdict === 'success') path.breaker.recordSuccess();
    else if (verdict !== 'defer') path.breaker.recordFailure(verdict);
  };
  let unresolvedSend: AttemptRecord | undefined;
  /** The latest 5xx/429 answer we failed over from: returned as is if no other path does better. */
  let lastAnswer: { response: UpstreamResponse; pathId: string } | undefined;
  const result = (
    response: UpstreamResponse,
    pathId: string,
    extra: Partial<ForwardResult> = {},
  ): ForwardResult => {
    if (lastAnswer && lastAnswer.response !== response) void discardBody(lastAnswer.response);
    return { response, pathId, attempts, idempotencyKey: options.idempotencyKey, ...extra };
  };
  request.headers.set(route.idempotency.header, options.idempotencyKey);

  for (let path = cursor.next(); path !== undefined; path = cursor.next()) {
    if (deadlineAt - now() <= 0) break;

    if (route.hedgeConnectMs !== undefined && path.transport.connect) {
      // Connect hedging: wait for a connection on this path or, after hedgeConnectMs, the next; send on the first up.
      const hedgeStarted = now();
      const notSent = (error: { code: string }): AttemptFacts => ({
        outcome: 'not_sent',
        code: error.code,
        closedAtStart: true,
        answeredElsewhere: false,
      });
      const hedge = await cursor.hedge(
        route.hedgeConnectMs,
        attemptTimeoutMs(route, path, false, deadlineAt - now()),
        (late) => chargeOutside(late.path, notSent(late.error)),
      );
      for (const failure of hedge.failures) {
        record(failure.path, 'not_sent', failure.error.code, hedgeStarted);
        chargeOutside(failure.path, notSent(failure.error));
      }
      if (hedge.winner === undefined) continue; // every path raced is either down or too slow to connect; go on after them
      path = hedge.winner;
      if (deadlineAt - now() <= 0) break;
    }

    const startedAt = now();
    const lastUsable = !cursor.laterUsable();
    const timeoutMs = attemptTimeoutMs(route, path, lastUsable, deadlineAt - now());
    const closedAtStart = path.breaker.state === 'closed';
    const attemptPath = path;
    let attempt: Attempt;
    try {
      attempt = await path.breaker.execute(
        () => sendAttempt(route, attemptPath, request, { timeoutMs, startedAt, lastUsable }),
        ({ outcome, code }) => {
          const verdict = attribute({
            outcome,
            code,
            closedAtStart,
            answeredElsewhere: answeredElsewhere(paths, attemptPath, startedAt),
          });
          if (verdict !== 'defer') return verdict;
          deferred.push({ path: attemptPath, startedAt });
          return 'excused';
        },
      );
    } catch (error) {
      if (error instanceof BreakerOpenError) continue; // the breaker changed state after we looked: nothing sent
      throw error;
    }

    if (attempt.outcome === 'answered') {
      settleDeferred(path);
      const response = attempt.response;
      record(path, 'answered', attempt.code, startedAt, response.status);
      path.latency.record(now() - startedAt);
      if (response.status === 409 && unresolvedSend) {
        // Our earlier send under this key may still be running at the processor (we gave up on it,
        // it did not). Its stored result is what the client must get: wait briefly, ask again.
        const answer = await keyInUse(response);
        if (answer.inUse && deadlineAt - now() > KEY_IN_USE_RETRY_MS) {
          await new Promise((resolve) => setTimeout(resolve, KEY_IN_USE_RETRY_MS));
          cursor.again(); // the same path again: it just answered
          continue;
        }
        return result(answer.response, path.config.id);
      }
      return result(response, path.config.id);
    }

    if (attempt.outcome === 'upstream_error') {
      record(path, 'upstream_error', attempt.code, startedAt, attempt.response.status);
      if (lastAnswer) await discardBody(lastAnswer.response);
      lastAnswer = { response: attempt.response, pathId: path.config.id };
      // A 5xx does not settle an earlier lost send (that request may still be processed): only
      // another path's 2xx-4xx answer under the same key does.
      const next = retrySafe && cursor.laterUsable() && deadlineAt - now() > 0 && mayResend();
      if (!next) break;
      continue;
    }

    if (attempt.outcome === 'not_sent') {
      record(path, 'not_sent', attempt.code, startedAt);
      continue;
    }

    unresolvedSend = record(path, 'sent_no_answer', attempt.code, startedAt);
    if (options.reconcile) {
      const outcome = await options.reconcile({ failedPathId: path.config.id, deadlineAt, now });
      if (outcome.kind === 'found')
        return result(outcome.response, outcome.pathId, { reconciled: true });
    }
    // While other paths answer (payments or probes, within RECENT_ANSWER_MS) the timeout is this path's
    // fault, e.g. a cut carrier, and the re-send is always allowed. When no path has answered lately, the
    // processor may be the slow part: the re-send takes a slot of the retry budget, as one after a 5xx does.
    const mayBeProcessor = !answeredElsewhere(paths, path, now() - RECENT_ANSWER_MS);
    if (!retrySafe || (mayBeProcessor && !mayResend()))
      throw outcomeUnknown(options.idempotencyKey, attempts, attempt.code);
  }

  if (unresolvedSend) {
    if (lastAnswer) await discardBody(lastAnswer.response);
    throw outcomeUnknown(options.idempotencyKey, attempts, unresolvedSend.code as AttemptErrorCode);
  }
  if (lastAnswer) return result(lastAnswer.response, lastAnswer.pathId);
  if (now() >= deadlineAt && attempts.length > 0) throw deadlineExceeded(route, attempts);
  throw noPathAvailable(route, cursor.paths, attempts, options.retryAfterSeconds ?? 1);
}

function answeredElsewhere(
  paths: ReadonlyMap<string, PathRuntime>,
  self: PathRuntime,
  since: number,
): boolean {
  for (const p of paths.values()) if (p !== self && (p.lastAnsweredAt ?? 0) >= since) return true;
  return false;
}

/** Reads a 409 to see whether it is the processor's `key_in_use`; hands back an equivalent response. */
async function keyInUse(
  response: UpstreamResponse,
): Promise<{ inUse: boolean; response: UpstreamResponse }> {
  const body = response.body;
  const bytes =
    body === null
      ? new Uint8Array()
      : body instanceof Uint8Array
        ? body
        : new Uint8Array(await new Response(body).arrayBuffer());
  const inUse = /key_in_use/.test(new TextDecoder().decode(bytes));
  return { inUse, response: { status: response.status, headers: response.headers, body: bytes } };
}
