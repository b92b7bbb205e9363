import type { MiddlewareHandler } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import { encodeBase64 } from '../../../core/base64.ts';
import { silentLogger, type Logger } from '../../../core/logger.ts';
import type { ForwardQueue, QueuedRequest } from '../../../core/queue/forward-queue.ts';
import type { ProxyEnv } from '../../env.ts';

export interface StoreAndForwardOptions {
  queue: ForwardQueue | undefined;
  logger?: Logger;
}

/** Where clients read a queued request's outcome. */
export const QUEUE_STATUS_PATH = '/v1/queue';

/**
 * `whenAllDown: queue`: when no path could carry a request (`no_path_available`: nothing was sent),
 * accept it with 202 and a queue id instead. Non-payment routes are always queued (up to
 * `queue.maxDepth`); payment routes only within the offline limits: the merchant header names who
 * the exposure counts against, the amount must be within the floor limit, and the merchant's
 * queued total within the exposure cap. Refusals keep 503 and name the limit in their code.
 */
export function storeAndForward(options: StoreAndForwardOptions): MiddlewareHandler<ProxyEnv> {
  const logger = options.logger ?? silentLogger;
  return async (c, next) => {
    await next();
    const queue = options.queue;
    const { route, idempotencyKey, upstream } = c.get('proxy');
    const cause = c.error;
    if (
      !queue ||
      route.whenAllDown !== 'queue' ||
      !(cause instanceof PaypathError) ||
      cause.code !== 'no_path_available'
    )
      return;

    const config = c.get('gateway').policy.queue;
    const refuse = (
      code: ConstructorParameters<typeof PaypathError>[0],
      message: string,
      details: Record<string, unknown> = {},
    ) =>
      new PaypathError(
        code,
        503,
        `no path can carry route "${route.id}" now, and it cannot be queued: ${message}`,
        {
          details: { route: route.id, ...details },
          headers: cause.headers,
        },
      );

    const request: QueuedRequest = {
      id: `q_${crypto.randomUUID()}`,
      routeId: route.id,
      method: upstream.method,
      target: upstream.target,
      headers: [...upstream.headers.entries()],
      bodyBase64: upstream.body === null ? null : encodeBase64(upstream.body),
      idempotencyKey,
      enqueuedAt: Date.now(),
    };
    let merchantExposureCap: number | undefined;
    if (route.class === 'payment') {
      const limits = config.payments;
      if (limits.floorLimit === 0)
        throw refuse(
          'queue_floor_limit_exceeded',
          'this policy queues no payments (queue.payments.floorLimit is 0)',
          { floorLimit: 0 },
        );
      const merchant = upstream.headers.get(limits.merchantHeader);
      if (!merchant)
        throw refuse(
          'queue_merchant_required',
          `a payment is queued only with a ${limits.merchantHeader} header`,
          { header: limits.merchantHeader },
        );
      const amount = readAmount(upstream.body, limits.amountField);
      if (amount === undefined) {
        throw refuse(
          'queue_amount_required',
          `a payment is queued only with a JSON body whose "${limits.amountField}" is a whole amount in minor units`,
          {
            field: limits.amountField,
          },
        );
      }
      if (amount > limits.floorLimit) {
        throw refuse(
          'queue_floor_limit_exceeded',
          `amount ${amount} is above the offline floor limit of ${limits.floorLimit}`,
          {
            amount,
            floorLimit: limits.floorLimit,
          },
        );
      }
      request.merchant = merchant;
      request.amount = amount;
      merchantExposureCap = limits.merchantExposureCap;
    }

    let result;
    try {
      result = await queue.enqueue(request, {
        maxDepth: config.maxDepth,
        ...(merchantExposureCap !== undefined ? { merchantExposureCap } : {}),
      });
    } catch (error) {
      logger.warn(
        { event: 'queue_unavailable', route: route.id, err: { message: (error as Error).message } },
        'queue unreachable; rejecting',
      );
      throw refuse('queue_unavailable', 'the queue is unreachable');
    }
    if (!result.ok && result.reason === 'exposure_cap') {
      throw refuse(
        'queue_exposure_cap_exceeded',
        `merchant's queued total would exceed the exposure cap of ${merchantExposureCap}`,
        {
          merchant: request.merchant,
          exposureCap: merchantExposureCap,
        },
      );
    }
    if (!result.ok && result.reason === 'no_key') {
      throw refuse(
        'queue_key_missing',
        'the queue keeps requests in Redis only encrypted, and no queue key is configured (--queue-key-file or PAYPATH_QUEUE_KEY)',
      );
    }
    if (!result.ok)
      throw refuse('queue_full', `the queue holds its maximum of ${config.maxDepth} requests`, {
        maxDepth: config.maxDepth,
      });

    logger.info(
      { event: 'queued', id: request.id, route: route.id },
      `no path available; request queued as ${request.id}`,
    );
    const location = `${QUEUE_STATUS_PATH}/${request.id}`;
    // Replace the 503 but keep headers other middleware set on it; Retry-After belonged to the 503.
    const headers = new Headers(c.res.headers);
    for (const name of ['retry-after', 'content-length']) headers.delete(name);
    headers.set('content-type', 'application/json');
    headers.set('location', location);
    headers.set(route.idempotency.header, idempotencyKey);
    headers.set('x-paypath-queued', request.id);
    c.res = undefined as unknown as Response;
    c.res = new Response(
      JSON.stringify({
        queued: true,
        id: request.id,
        route: route.id,
        idempotencyKey,
        status: location,
      }),
      { status: 202, headers },
    );
    c.error = undefined;
  };
}

function readAmount(body: Uint8Array | null, field: string): number | undefined {
  if (body === null) return undefined;
  try {
    const value = (JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>)[field];
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}
