import { BreakerOpenError } from '../breaker/breaker.ts';
import { PaypathError } from '../errors.ts';
import type { RouteConfig } from '../policy/schema.ts';
import { discardBody, type UpstreamRequest, type UpstreamResponse } from '../transport.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';
import type { Reconciler } from '../idempotency/reconcile.ts';
import { AttemptTimer } from './attempt-timer.ts';
import type { AttemptOutcome, AttemptRecord } from './attempt-record.ts';
import { AttemptError, type AttemptErrorCode } from './attempt-error.ts';
import { raceConnects } from './connect-hedge.ts';
import type { RetryBudget } from './retry-budget.ts';

/** Used when a route fixes no attemptTimeoutMs. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 2_000;

/**
 * The route's paths in its order, except that degraded paths (a lossy carrier) come after the
 * others while one of those others would take a request: a lost segment on a degraded path costs a
 * checkout a TCP retransmission, a lost SYN a second. A degraded path stays a candidate, so it
 * still carries the payment when no sibling can.
 */
export function orderCandidates(candidates: readonly PathRuntime[]): PathRuntime[] {
  if (!candidates.some((p) => p.degraded)) return [...candidates];
  const healthy = candidates.filter((p) => !p.degraded);
  if (!healthy.some((p) => p.breaker.isAvailable)) return [...candidates];
  return [...healthy, ...candidates.filter((p) => p.degraded)];
}

/** How recent another path's answer must be for a timeout to count as this path's fault in the retry budget. */
export const RECENT_ANSWER_MS = 10_000;

/** Pause before asking again when the processor says our own key is still in use (409 key_in_use). */
export const KEY_IN_USE_RETRY_MS = 50;

export interface ForwardResult {
  response: UpstreamResponse;
  pathId: string;
  attempts: AttemptRecord[];
  idempotencyKey: string;
  /** True when the answer came from the processor's lookup after an attempt was sent without an answer. */
  reconciled?: boolean;
}

export interface ForwardOptions {
  /** The idempotency key to send on every attempt (the client's, or one generated for it). */
  idempotencyKey: string;
  /** Sent as Retry-After with `no_path_available`. Default: 1. */
  retryAfterSeconds?: number;
  now?: () => number;
  /** Limits re-sends of requests already sent (not failovers of attempts that sent nothing). Default: unlimited. */
  retryBudget?: RetryBudget;
  /** Asked after an attempt was sent without an answer, before retrying or answering outcome_unknown. */
  reconcile?: Reconciler;
}

/** A 5xx or 429 from upstream: counts against the path inside the breaker; may be returned as is. */
class UpstreamStatusError extends Error {
  readonly response: UpstreamResponse;
  constructor(response: UpstreamResponse) {
    super(`upstream answered ${response.status}`);
    this.response = response;
  }
}

/**
 * Sends a request over the route's paths in order, one attempt at a time, and fails over by what
 * reached the wire (README.md, "How a payment travels"):
 * - not sent (connect failure, breaker open): next path at once;
 * - sent without an answer: next path only when the route's processor honours idempotency keys
 *   (the same key goes out on every attempt); otherwise `outcome_unknown`, never re-sent;
 * - answered: 2xx-4xx returned as is; 5xx/429 count against the path and fail over only when retry-safe.
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
  /**
   * Timeouts excused because no other path answered meanwhile; counted once another path answers
   * this request, unless the timed-out path has answered since that attempt began: then the
   * processor was the slow part (a stall answers every path's queue when it ends), not the path.
   */
  const excused: { path: PathRuntime; startedAt: number }[] = [];
  const countExcused = (winner: PathRuntime) => {
    for (const { path: p, startedAt } of excused) {
      if (p === winner || !p.breaker.isAvailable || (p.lastAnsweredAt ?? Number.NEGATIVE_INFINITY) >= startedAt) continue;
      void p.breaker.execute(() => Promise.reject(new AttemptError('response_timeout', 'sent', 'another path answered this request'))).catch(() => {});
    }
  };
  const now = options.now ?? Date.now;
  const startedAt = now();
  const deadlineAt = startedAt + route.deadlineMs;
  const retrySafe = route.idempotency.upstreamHonors;
  const candidates = orderCandidates(route.paths.map((id) => paths.get(id)).filter((p): p is PathRuntime => p !== undefined));
  const attempts: AttemptRecord[] = [];
  let unresolvedSend: AttemptRecord | undefined;
  /** The latest 5xx/429 answer we failed over from: returned as is if no other path does better. */
  let lastAnswer: { response: UpstreamResponse; pathId: string } | undefined;
  const result = (response: UpstreamResponse, pathId: string, extra: Partial<ForwardResult> = {}): ForwardResult => {
    if (lastAnswer && lastAnswer.response !== response) void discardBody(lastAnswer.response);
    return { response, pathId, attempts, idempotencyKey: options.idempotencyKey, ...extra };
  };
  /** Whether a path after candidate i would admit a request now. */
  const laterUsable = (i: number) => candidates.slice(i + 1).some((p) => p.breaker.isAvailable);
  /**
   * The per-attempt timeout: the route's if it fixes one, else the path's adaptive one. An adaptive
   * timeout exists to move on to another path quickly; on the last usable path there is nowhere to
   * move on to, and giving up early would turn a slow answer into a failure (seen when a spliced
   * carrier floods the processor with held requests), so it waits up to the deadline.
   */
  const attemptTimeout = (path: PathRuntime, lastUsable: boolean, remaining: number): number => {
    const adaptive = lastUsable ? undefined : path.attemptTimeoutMs?.(route);
    return Math.min(route.attemptTimeoutMs ?? adaptive ?? (lastUsable ? remaining : DEFAULT_ATTEMPT_TIMEOUT_MS), remaining);
  };
  request.headers.set(route.idempotency.header, options.idempotencyKey);

  for (let i = 0; i < candidates.length; i++) {
    let path = candidates[i]!;
    let remaining = deadlineAt - now();
    if (remaining <= 0) break;
    if (!path.breaker.isAvailable) continue;

    if (route.hedgeConnectMs !== undefined && path.transport.connect) {
      // Connect hedging: wait for a connection on this path or, after hedgeConnectMs, the next; send on the first up.
      const budget = attemptTimeout(path, false, remaining);
      const hedgeStarted = now();
      const hedge = await raceConnects(candidates, i, route.hedgeConnectMs, budget, (index, error) => countConnectFailure(candidates[index]!, error));
      for (const { index, error } of hedge.failures) {
        const failed = candidates[index]!;
        const entry: AttemptRecord = { pathId: failed.config.id, outcome: 'not_sent', code: error.code, durationMs: now() - hedgeStarted };
        failed.recordAttempt(entry);
        attempts.push(entry);
        countConnectFailure(failed, error);
      }
      if (hedge.winner === undefined) {
        i = hedge.lastStarted; // every path raced is either down or too slow to connect; go on after them
        continue;
      }
      i = hedge.winner;
      path = candidates[i]!;
      remaining = deadlineAt - now();
      if (remaining <= 0) break;
    }

    const attemptStarted = now();
    const timeoutMs = attemptTimeout(path, !laterUsable(i), remaining);
    const record = (outcome: AttemptOutcome, code: string, status?: number): AttemptRecord => {
      const entry: AttemptRecord = { pathId: path.config.id, outcome, code, status, durationMs: now() - attemptStarted };
      path.recordAttempt(entry);
      attempts.push(entry);
      return entry;
    };

    const closedAtStart = path.breaker.state === 'closed';
    try {
      const response = await path.breaker.execute(async () => {
        let answer: UpstreamResponse;
        const timer = new AttemptTimer(timeoutMs);
        // Only an adaptive timeout is cut short: a fixed one is the operator's, and on the last usable path there is nowhere to go.
        const unwatch = route.attemptTimeoutMs === undefined && laterUsable(i) ? path.watchSilence?.(route, attemptStarted, (reason) => timer.giveUp(reason)) : undefined;
        try {
          path.noteAsked?.();
          answer = await path.transport.send(request, { signal: timer.signal, bodyTimeoutMs: route.deadlineMs });
        } catch (error) {
          // A timeout marks the path failing only when another path answered meanwhile: if none did,
          // the processor or this box is slow, not the path (a half-open trial always counts).
          if (error instanceof AttemptError && error.code === 'response_timeout' && closedAtStart && !answeredElsewhere(paths, path, attemptStarted)) {
            error.countsAgainstPath = false;
            excused.push({ path, startedAt: attemptStarted });
          }
          throw error;
        } finally {
          timer.dispose();
          unwatch?.();
        }
        if (answer.status >= 500 || answer.status === 429) throw new UpstreamStatusError(answer);
        return answer;
      });
      countExcused(path);
      record('answered', `http_${response.status}`, response.status);
      path.latency.record(now() - attemptStarted);
      if (response.status === 409 && unresolvedSend) {
        // Our earlier send under this key may still be running at the processor (we gave up on it,
        // it did not). Its stored result is what the client must get: wait briefly, ask again.
        const answer = await keyInUse(response);
        if (answer.inUse && deadlineAt - now() > KEY_IN_USE_RETRY_MS) {
          await new Promise((resolve) => setTimeout(resolve, KEY_IN_USE_RETRY_MS));
          i--; // the same path again: it just answered
          continue;
        }
        return result(answer.response, path.config.id);
      }
      return result(response, path.config.id);
    } catch (error) {
      if (error instanceof BreakerOpenError) continue; // the breaker changed state after we looked: nothing sent
      if (error instanceof UpstreamStatusError) {
        record('upstream_error', `http_${error.response.status}`, error.response.status);
        if (lastAnswer) await discardBody(lastAnswer.response);
        lastAnswer = { response: error.response, pathId: path.config.id };
        // A 5xx does not settle an earlier lost send (that request may still be processed): only
        // another path's 2xx-4xx answer under the same key does.
        const next = retrySafe && laterUsable(i) && deadlineAt - now() > 0 && mayResend();
        if (!next) break;
        continue;
      }
      const failure = error instanceof AttemptError ? error : new AttemptError('unexpected', 'sent', String(error), { cause: error });
      if (failure.wire === 'not_sent') {
        record('not_sent', failure.code);
        continue;
      }
      unresolvedSend = record('sent_no_answer', failure.code);
      if (options.reconcile) {
        const outcome = await options.reconcile({ failedPathId: path.config.id, deadlineAt, now });
        if (outcome.kind === 'found') {
          return result(outcome.response, outcome.pathId, { reconciled: true });
        }
      }
      // While other paths answer (payments or probes, within RECENT_ANSWER_MS) the timeout is this path's
      // fault, e.g. a cut carrier, and the re-send is always allowed. When no path has answered lately, the
      // processor may be the slow part: the re-send takes a slot of the retry budget, as one after a 5xx does.
      const mayBeProcessor = !answeredElsewhere(paths, path, now() - RECENT_ANSWER_MS);
      if (!retrySafe || (mayBeProcessor && !mayResend())) throw outcomeUnknown(options.idempotencyKey, attempts, failure.code);
    }
  }

  if (unresolvedSend) {
    if (lastAnswer) await discardBody(lastAnswer.response);
    throw outcomeUnknown(options.idempotencyKey, attempts, unresolvedSend.code as AttemptErrorCode);
  }
  if (lastAnswer) return result(lastAnswer.response, lastAnswer.pathId);
  if (now() >= deadlineAt && attempts.length > 0) {
    throw new PaypathError('deadline_exceeded', 504, `no path answered within the route's deadline of ${route.deadlineMs} ms; nothing was sent`, {
      details: { attempts: attempts.map(summarise) },
    });
  }
  throw noPathAvailable(route, candidates, attempts, options.retryAfterSeconds ?? 1);
}

/** A failed connect is a failure of that path, even one that lost a hedge race: let its breaker count it. */
function countConnectFailure(path: PathRuntime, error: AttemptError): void {
  if (path.breaker.isAvailable) void path.breaker.execute(() => Promise.reject(error)).catch(() => {});
}

function answeredElsewhere(paths: ReadonlyMap<string, PathRuntime>, self: PathRuntime, since: number): boolean {
  for (const p of paths.values()) if (p !== self && (p.lastAnsweredAt ?? 0) >= since) return true;
  return false;
}

/** Reads a 409 to see whether it is the processor's `key_in_use`; hands back an equivalent response. */
async function keyInUse(response: UpstreamResponse): Promise<{ inUse: boolean; response: UpstreamResponse }> {
  const body = response.body;
  const bytes = body === null ? new Uint8Array() : body instanceof Uint8Array ? body : new Uint8Array(await new Response(body).arrayBuffer());
  const inUse = /key_in_use/.test(new TextDecoder().decode(bytes));
  return { inUse, response: { status: response.status, headers: response.headers, body: bytes } };
}

function summarise(a: AttemptRecord) {
  return { path: a.pathId, outcome: a.outcome, code: a.code };
}

function outcomeUnknown(key: string, attempts: AttemptRecord[], code: AttemptErrorCode): PaypathError {
  return new PaypathError(
    'outcome_unknown',
    502,
    `the request was sent but no answer came back (${code}); it may have been processed. Retry with the same idempotency key to learn the outcome.`,
    { details: { idempotencyKey: key, attempts: attempts.map(summarise) } },
  );
}

function noPathAvailable(route: RouteConfig, candidates: PathRuntime[], attempts: AttemptRecord[], retryAfterS: number): PaypathError {
  return new PaypathError('no_path_available', 503, `no path can carry route "${route.id}" now; nothing was sent`, {
    details: {
      route: route.id,
      paths: candidates.map((p) => ({ id: p.config.id, state: p.breaker.state })),
      attempts: attempts.map(summarise),
    },
    headers: { 'retry-after': String(retryAfterS) },
  });
}
