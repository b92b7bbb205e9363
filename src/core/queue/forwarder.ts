import { PaypathError } from '../errors.ts';
import type { Gateway } from '../gateway.ts';
import { decodeBase64, encodeBase64 } from '../base64.ts';
import { isFinalAnswer } from '../idempotency/final-answer.ts';
import { silentLogger, type Logger } from '../logger.ts';
import type { ForwardQueue, QueuedRequest } from './forward-queue.ts';

export interface QueueForwarderOptions {
  queue: ForwardQueue;
  /** The gateway for the running policy, read on every drain. */
  gateway: () => Gateway;
  logger?: Logger;
  /** Called after a queued request is dead-lettered, e.g. for metrics. */
  onDeadLetter?: (request: QueuedRequest, reason: string) => void;
  now?: () => number;
}

/** How long the drain lock lasts without renewal, in ms, at least: longer than any one forward can take. */
const DRAIN_LOCK_TTL_MS = 30_000;

/**
 * Forwards queued requests in order, one at a time, each under its own idempotency key (so a
 * forward repeated after a crash is de-duplicated by the processor). The head blocks the queue
 * until it is forwarded or dead-lettered: that is what keeps the order.
 * - no path can carry it (nothing sent): stop, try again on the next drain; not an attempt;
 * - a final answer (see isFinalAnswer): stored as the outcome;
 * - 5xx/409/429, or sent without an answer on a route whose processor honours keys: an attempt;
 *   dead-lettered after `queue.maxAttempts`;
 * - sent without an answer where the processor does not honour keys: dead-lettered at once
 *   (reason outcome_unknown), because sending it again could charge twice;
 * - a payment older than `queue.payments.maxAgeMs`: dead-lettered (reason expired), never sent;
 * - sealed with a queue key this instance lacks: waits (another instance, or a restart with the
 *   key listed, forwards it); one that does not authenticate: dead-lettered, never sent.
 */
export class QueueForwarder {
  readonly #options: QueueForwarderOptions;
  readonly #owner = crypto.randomUUID();
  readonly #now: () => number;
  #draining: Promise<void> | undefined;
  /** The unreadable head last reported, so a waiting queue logs it once, not on every drain. */
  #reportedUnreadable: string | undefined;

  constructor(options: QueueForwarderOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Drains until the queue is empty or the head cannot go yet. Concurrent calls share one run. */
  drain(): Promise<void> {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #drain(): Promise<void> {
    const { queue } = this.#options;
    const logger = this.#options.logger ?? silentLogger;
    let locked = false;
    const lockTtlMs = Math.max(
      DRAIN_LOCK_TTL_MS,
      ...this.#options.gateway().policy.routes.map((r) => r.deadlineMs + 5_000),
    );
    try {
      locked = await queue.acquireDrainLock(this.#owner, lockTtlMs);
      if (!locked) return;
      for (let step = 0; step < 10_000; step++) {
        // Extend the lock before each request, so a long drain never overlaps another instance's.
        if (step > 0 && !(await queue.acquireDrainLock(this.#owner, lockTtlMs))) return;
        const head = await queue.head();
        if (!head) return;
        if (!(await this.#forwardOne(head))) return;
      }
    } catch (error) {
      logger.warn(
        { event: 'queue_drain_failed', err: { message: (error as Error).message } },
        'queue drain failed; retrying on the next tick',
      );
    } finally {
      if (locked) await queue.releaseDrainLock(this.#owner).catch(() => {});
    }
  }

  /** True when the head left the queue (forwarded or dead-lettered), so the next may go. */
  async #forwardOne(request: QueuedRequest): Promise<boolean> {
    const { queue } = this.#options;
    const logger = this.#options.logger ?? silentLogger;
    const gateway = this.#options.gateway();
    const config = gateway.policy.queue;
    const route = gateway.policy.routes.find((r) => r.id === request.routeId);
    const deadLetter = async (reason: string) => {
      await queue.deadLetter(request, reason, config.retentionMs);
      this.#options.onDeadLetter?.(request, reason);
      logger.warn(
        { event: 'queue_dead_letter', id: request.id, route: request.routeId, reason },
        `queued request ${request.id} dead-lettered: ${reason}`,
      );
      return true;
    };
    if (!route) return deadLetter(`route "${request.routeId}" is no longer in the policy`);
    if (route.class === 'payment' && this.#now() - request.enqueuedAt > config.payments.maxAgeMs)
      return deadLetter('expired');
    if (request.unreadable === 'corrupt')
      return deadLetter('unreadable: altered or corrupt, not sent');
    if (request.unreadable === 'key_unknown') {
      // Another instance (or this one restarted with the previous key listed) can still forward it: wait, say so once.
      if (this.#reportedUnreadable !== request.id) {
        this.#reportedUnreadable = request.id;
        logger.error(
          { event: 'queue_key_unknown', id: request.id, route: request.routeId },
          `queued request ${request.id} was sealed with a queue key this instance was not given; the queue waits for an instance that has it (list the previous key after a rotation)`,
        );
      }
      return false;
    }
    if (gateway.usablePaths(route).length === 0) return false;

    try {
      const result = await gateway.forward(
        route,
        {
          method: request.method,
          target: request.target,
          headers: new Headers(request.headers),
          body: request.bodyBase64 === null ? null : decodeBase64(request.bodyBase64),
        },
        request.idempotencyKey,
      );
      const { status, headers } = result.response;
      const body = result.response.body
        ? new Uint8Array(await new Response(result.response.body).arrayBuffer())
        : new Uint8Array(0);
      if (isFinalAnswer(status)) {
        const kept: [string, string][] = [];
        headers.forEach((value, name) => kept.push([name, value]));
        await queue.complete(
          request,
          { status, headers: kept, bodyBase64: encodeBase64(body) },
          config.retentionMs,
        );
        logger.info(
          {
            event: 'queue_forwarded',
            id: request.id,
            route: request.routeId,
            status,
            path: result.pathId,
          },
          `queued request ${request.id} forwarded`,
        );
        return true;
      }
      return this.#failed(request, `http_${status}`, config.maxAttempts, deadLetter);
    } catch (error) {
      if (
        error instanceof PaypathError &&
        (error.code === 'no_path_available' || error.code === 'deadline_exceeded')
      )
        return false;
      if (
        error instanceof PaypathError &&
        error.code === 'outcome_unknown' &&
        !route.idempotency.upstreamHonors
      )
        return deadLetter('outcome_unknown');
      const code = error instanceof PaypathError ? error.code : 'internal_error';
      return this.#failed(request, code, config.maxAttempts, deadLetter);
    }
  }

  async #failed(
    request: QueuedRequest,
    error: string,
    maxAttempts: number,
    deadLetter: (reason: string) => Promise<boolean>,
  ): Promise<boolean> {
    const attempts = await this.#options.queue.recordFailure(request.id, error);
    if (attempts >= maxAttempts) return deadLetter(`${error} after ${attempts} attempts`);
    return false;
  }
}
