import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { PaypathError } from '../../../core/errors.ts';
import type { Gateway } from '../../../core/gateway.ts';
import type { Logger } from '../../../core/logger.ts';
import type { EnqueueResult, QueuedRequest } from '../../../core/queue/forward-queue.ts';
import { MemoryForwardQueue } from '../../../core/queue/memory-queue.ts';
import { matchRoute } from '../../../core/routing.ts';
import { policyFromObject } from '../../../../test/support/policy.ts';
import type { ProxyEnv } from '../../env.ts';
import { storeAndForward } from './index.ts';

const KEY = 'key-1';
const ID = /^q_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A queue whose enqueue answers as the test says (or fails), recording what it was given. */
class ScriptedQueue extends MemoryForwardQueue {
  readonly enqueued: { request: QueuedRequest; limits: object }[] = [];
  answer: EnqueueResult | Error = { ok: true };

  override async enqueue(
    request: QueuedRequest,
    limits: { maxDepth: number; merchantExposureCap?: number },
  ): Promise<EnqueueResult> {
    if (this.answer instanceof Error) throw this.answer;
    this.enqueued.push({ request, limits });
    return this.answer;
  }
}

const noPathAvailable = () =>
  new PaypathError('no_path_available', 503, 'no path can carry the route now', {
    headers: { 'retry-after': '5' },
  });

/**
 * A tiny app: a fake gateway holding only the policy, the proxy's request as resolveProxyRequest
 * leaves it (and a header it set on the answer), the middleware, and a handler standing in for the
 * forwarding that throws `failure` (or answers 201). The error handler keeps the headers already
 * set, as the app's does; `errors` is what middleware outside this one sees in c.error.
 */
function setup(
  options: {
    queueSettings?: Record<string, unknown>;
    failure?: Error;
    withoutQueue?: boolean;
  } = {},
) {
  const policy = policyFromObject({
    version: 1,
    paths: [{ id: 'kt-fiber', upstream: 'https://pay.example' }],
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: ['kt-fiber'],
        whenAllDown: 'queue',
      },
      {
        id: 'billing',
        match: { method: 'POST', pathPrefix: '/v1/billing/' },
        class: 'billing',
        paths: ['kt-fiber'],
        whenAllDown: 'queue',
      },
      {
        id: 'refunds',
        match: { method: 'POST', path: '/v1/refunds' },
        class: 'refund',
        paths: ['kt-fiber'],
      },
    ],
    queue: options.queueSettings ?? {},
  });
  const queue = new ScriptedQueue();
  const logs: { level: string; fields: object; message: string | undefined }[] = [];
  const logger: Logger = {
    info: (fields, message) => logs.push({ level: 'info', fields, message }),
    warn: (fields, message) => logs.push({ level: 'warn', fields, message }),
    error: (fields, message) => logs.push({ level: 'error', fields, message }),
  };
  const errors: (Error | undefined)[] = [];
  const app = new Hono<ProxyEnv>();
  app.onError((error, c) => {
    const kept: Record<string, string> = {};
    c.res.headers.forEach((value, name) => {
      kept[name] = value;
    });
    return error instanceof PaypathError
      ? error.toResponse(kept)
      : new PaypathError('internal_error', 500, 'internal error').toResponse(kept);
  });
  app.use(async (c, next) => {
    await next();
    errors.push(c.error);
  });
  app.use(async (c, next) => {
    const url = new URL(c.req.url);
    const route = matchRoute(policy.routes, c.req.method, url.pathname)!;
    c.set('gateway', { policy } as Partial<Gateway> as Gateway);
    c.header('x-set-earlier', 'kept');
    const body = new Uint8Array(await c.req.arrayBuffer());
    c.set('proxy', {
      route,
      idempotencyKey: KEY,
      generatedKey: false,
      upstream: {
        method: c.req.method,
        target: url.pathname + url.search,
        headers: new Headers(c.req.raw.headers),
        body: body.byteLength === 0 ? null : body,
      },
    });
    await next();
  });
  app.use(storeAndForward({ queue: options.withoutQueue ? undefined : queue, logger }));
  app.all('*', (c) => {
    if (options.failure) throw options.failure;
    return c.json({ id: 'ch_1' }, 201);
  });
  const send = async (path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': KEY, ...headers },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return {
      status: response.status,
      headers: response.headers,
      json: (await response.json()) as Record<string, unknown> & {
        error?: Record<string, unknown>;
      },
    };
  };
  return { send, queue, logs, errors };
}

const PAYMENT_LIMITS = { payments: { floorLimit: 5_000, merchantExposureCap: 8_000 } };

describe('store-and-forward', () => {
  it('queues a request no path could carry: 202 with its id, where to read the outcome, and the key', async () => {
    const { send, queue, logs, errors } = setup({ failure: noPathAvailable() });
    const answer = await send('/v1/billing/invoices?period=2026-12', { invoice: 'inv-7' });
    expect(answer.status).toBe(202);
    const id = answer.json.id as string;
    expect(id).toMatch(ID);
    expect(answer.json).toEqual({
      queued: true,
      id,
      route: 'billing',
      idempotencyKey: KEY,
      status: `/v1/queue/${id}`,
    });
    expect(answer.headers.get('location')).toBe(`/v1/queue/${id}`);
    expect(answer.headers.get('x-paypath-queued')).toBe(id);
    expect(answer.headers.get('idempotency-key')).toBe(KEY);
    expect(answer.headers.get('content-type')).toBe('application/json');
    // Headers set before stay; the 503's Retry-After does not.
    expect(answer.headers.get('x-set-earlier')).toBe('kept');
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(errors).toEqual([undefined]);

    expect(queue.enqueued).toHaveLength(1);
    const { request, limits } = queue.enqueued[0]!;
    expect(request).toEqual({
      id,
      routeId: 'billing',
      method: 'POST',
      target: '/v1/billing/invoices?period=2026-12',
      headers: expect.arrayContaining([['idempotency-key', KEY]]),
      bodyBase64: Buffer.from('{"invoice":"inv-7"}').toString('base64'),
      idempotencyKey: KEY,
      enqueuedAt: expect.any(Number),
    });
    expect(limits).toEqual({ maxDepth: 10_000 });
    expect(logs).toEqual([
      {
        level: 'info',
        fields: { event: 'queued', id, route: 'billing' },
        message: expect.any(String),
      },
    ]);
  });

  it('queues a request without a body as one without a body', async () => {
    const { send, queue } = setup({ failure: noPathAvailable() });
    expect((await send('/v1/billing/close')).status).toBe(202);
    expect(queue.enqueued[0]!.request.bodyBase64).toBeNull();
  });

  it('leaves every other answer as it is, and queues nothing', async () => {
    const cases: [Parameters<typeof setup>[0], string, number, string | undefined][] = [
      [{}, '/v1/billing/invoices', 201, undefined],
      // Sent and maybe processed: queueing it could charge twice.
      [
        { failure: new PaypathError('outcome_unknown', 502, 'sent, no answer') },
        '/v1/billing/invoices',
        502,
        'outcome_unknown',
      ],
      [
        { failure: new PaypathError('deadline_exceeded', 504, 'too late') },
        '/v1/billing/invoices',
        504,
        'deadline_exceeded',
      ],
      [{ failure: new Error('a bug') }, '/v1/billing/invoices', 500, 'internal_error'],
      // A route that rejects when every path is down, and a gateway without a queue.
      [{ failure: noPathAvailable() }, '/v1/refunds', 503, 'no_path_available'],
      [
        { failure: noPathAvailable(), withoutQueue: true },
        '/v1/billing/invoices',
        503,
        'no_path_available',
      ],
    ];
    for (const [options, path, status, code] of cases) {
      const { send, queue } = setup(options);
      const answer = await send(path, { invoice: 'inv-8' });
      expect({ path, status: answer.status, code: answer.json.error?.code }).toEqual({
        path,
        status,
        code,
      });
      expect(answer.headers.get('x-paypath-queued')).toBeNull();
      expect(queue.enqueued).toHaveLength(0);
    }
  });

  it('queues a payment within the offline limits, counted against its merchant', async () => {
    const { send, queue } = setup({ failure: noPathAvailable(), queueSettings: PAYMENT_LIMITS });
    for (const amount of [4_500, 5_000]) {
      const answer = await send('/v1/payments', { amount }, { 'x-merchant-id': 'shop-1' });
      expect(answer.status).toBe(202);
    }
    expect(queue.enqueued.map(({ request, limits }) => ({ request, limits }))).toEqual([
      {
        request: expect.objectContaining({
          routeId: 'payments',
          merchant: 'shop-1',
          amount: 4_500,
        }),
        limits: { maxDepth: 10_000, merchantExposureCap: 8_000 },
      },
      {
        request: expect.objectContaining({ merchant: 'shop-1', amount: 5_000 }),
        limits: { maxDepth: 10_000, merchantExposureCap: 8_000 },
      },
    ]);
  });

  it('refuses a payment outside the offline limits: 503 naming the limit, Retry-After kept, nothing queued', async () => {
    const merchant = { 'x-merchant-id': 'shop-1' };
    const cases: [unknown, Record<string, string>, Record<string, unknown>][] = [
      [{ amount: 4_500 }, {}, { code: 'queue_merchant_required', header: 'X-Merchant-Id' }],
      [{ amount: 4_500 }, { 'x-merchant-id': '' }, { code: 'queue_merchant_required' }],
      [undefined, merchant, { code: 'queue_amount_required', field: 'amount' }],
      ['amount=4500', merchant, { code: 'queue_amount_required', field: 'amount' }],
      [{ total: 4_500 }, merchant, { code: 'queue_amount_required' }],
      [{ amount: '4500' }, merchant, { code: 'queue_amount_required' }],
      [{ amount: 45.5 }, merchant, { code: 'queue_amount_required' }],
      [{ amount: -1 }, merchant, { code: 'queue_amount_required' }],
      [
        { amount: 5_001 },
        merchant,
        { code: 'queue_floor_limit_exceeded', amount: 5_001, floorLimit: 5_000 },
      ],
    ];
    for (const [body, headers, error] of cases) {
      const { send, queue, errors } = setup({
        failure: noPathAvailable(),
        queueSettings: PAYMENT_LIMITS,
      });
      const answer = await send('/v1/payments', body, headers);
      expect({ body, status: answer.status, error: answer.json.error }).toEqual({
        body,
        status: 503,
        error: expect.objectContaining({ ...error, route: 'payments' }),
      });
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.headers.get('x-set-earlier')).toBe('kept');
      // The refusal carries the 503's headers itself, whatever the error handler keeps.
      expect(errors[0]).toMatchObject({
        code: error.code,
        status: 503,
        headers: { 'retry-after': '5' },
      });
      expect(queue.enqueued).toHaveLength(0);
    }
  });

  it('queues no payment at all under the default floor limit of 0, not even one of amount 0', async () => {
    const { send, queue } = setup({ failure: noPathAvailable() });
    const cases: [unknown, Record<string, string>][] = [
      [{ amount: 1 }, { 'x-merchant-id': 'shop-1' }],
      [{ amount: 0 }, { 'x-merchant-id': 'shop-1' }],
      [undefined, {}],
    ];
    for (const [body, headers] of cases) {
      const answer = await send('/v1/payments', body, headers);
      expect({ body, status: answer.status, error: answer.json.error }).toEqual({
        body,
        status: 503,
        error: expect.objectContaining({ code: 'queue_floor_limit_exceeded', floorLimit: 0 }),
      });
    }
    expect(queue.enqueued).toHaveLength(0);
  });

  it("reads the amount and the merchant where the policy's queue.payments says", async () => {
    const { send, queue } = setup({
      failure: noPathAvailable(),
      queueSettings: {
        payments: { ...PAYMENT_LIMITS.payments, amountField: 'total', merchantHeader: 'X-Store' },
      },
    });
    const queued = await send('/v1/payments', { total: 4_500 }, { 'x-store': 'store-9' });
    expect(queued.status).toBe(202);
    expect(queue.enqueued[0]!.request).toMatchObject({ merchant: 'store-9', amount: 4_500 });
    const amountElsewhere = await send('/v1/payments', { amount: 4_500 }, { 'x-store': 'store-9' });
    expect(amountElsewhere.json.error).toMatchObject({
      code: 'queue_amount_required',
      field: 'total',
    });
    const merchantElsewhere = await send(
      '/v1/payments',
      { total: 4_500 },
      { 'x-merchant-id': 'shop-1' },
    );
    expect(merchantElsewhere.json.error).toMatchObject({
      code: 'queue_merchant_required',
      header: 'X-Store',
    });
    expect(queue.enqueued).toHaveLength(1);
  });

  it("answers the queue's refusals with their codes: exposure cap, no queue key, full", async () => {
    const cases: [EnqueueResult, Record<string, unknown>][] = [
      [
        { ok: false, reason: 'exposure_cap' },
        { code: 'queue_exposure_cap_exceeded', merchant: 'shop-1', exposureCap: 8_000 },
      ],
      [{ ok: false, reason: 'no_key' }, { code: 'queue_key_missing' }],
      [
        { ok: false, reason: 'queue_full' },
        { code: 'queue_full', maxDepth: 3 },
      ],
    ];
    for (const [result, error] of cases) {
      const { send, queue, errors } = setup({
        failure: noPathAvailable(),
        queueSettings: { ...PAYMENT_LIMITS, maxDepth: 3 },
      });
      queue.answer = result;
      const answer = await send('/v1/payments', { amount: 4_500 }, { 'x-merchant-id': 'shop-1' });
      expect(answer.status).toBe(503);
      expect(answer.json.error).toMatchObject({ ...error, route: 'payments' });
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.headers.get('x-paypath-queued')).toBeNull();
      expect(errors[0]).toMatchObject({ code: error.code, headers: { 'retry-after': '5' } });
    }
  });

  it('answers 503 queue_unavailable when the queue cannot be reached, and logs why without the request', async () => {
    const { send, queue, logs } = setup({ failure: noPathAvailable() });
    queue.answer = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const answer = await send('/v1/billing/invoices', { invoice: 'inv-secret-9' });
    expect(answer.status).toBe(503);
    expect(answer.json.error).toMatchObject({ code: 'queue_unavailable', route: 'billing' });
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(logs).toEqual([
      {
        level: 'warn',
        fields: {
          event: 'queue_unavailable',
          route: 'billing',
          err: { message: 'connect ECONNREFUSED 127.0.0.1:6379' },
        },
        message: expect.any(String),
      },
    ]);
    expect(JSON.stringify(logs)).not.toContain('inv-secret-9');
  });
});
