import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { PaypathError } from '../../../core/errors.ts';
import { ByteBudget } from '../../../core/limits/byte-budget.ts';
import { BodyAllowance } from '../../body-allowance.ts';
import type { AppEnv, RequestBodyReader } from '../../env.ts';
import { bufferedBody, readWebRequestBody } from './index.ts';

const LIMIT = 16;

/**
 * A tiny app whose handler asks for the body `asks` times under LIMIT and answers what it got, how
 * many bytes the request's allowance then held, and each read the reader was asked for.
 */
function setup(options: { reader?: RequestBodyReader; budgetBytes?: number; asks?: number } = {}) {
  const budget = new ByteBudget(() => options.budgetBytes ?? 1_000);
  const reads: { maxBytes: number; allowance: BodyAllowance }[] = [];
  const allowances: BodyAllowance[] = [];
  const reader = options.reader ?? readWebRequestBody;
  const app = new Hono<AppEnv>();
  app.onError((error) =>
    error instanceof PaypathError ? error.toResponse() : new Response('bug', { status: 500 }),
  );
  app.use(async (c, next) => {
    c.set('readRequestBody', (ctx, maxBytes, allowance) => {
      reads.push({ maxBytes, allowance });
      return reader(ctx, maxBytes, allowance);
    });
    const declared = c.req.header('content-length');
    // No wait for room: a full budget refuses at once.
    const allowance = new BodyAllowance(
      budget,
      0,
      declared === undefined ? undefined : Number(declared),
    );
    allowances.push(allowance);
    c.set('bodyAllowance', allowance);
    await next();
  });
  app.all('*', async (c) => {
    const bodies: (string | null)[] = [];
    for (let i = 0; i < (options.asks ?? 1); i++) {
      const body = await bufferedBody(c, LIMIT);
      bodies.push(body === null ? null : new TextDecoder().decode(body));
    }
    return c.json({ bodies, held: c.get('bodyAllowance').held });
  });
  return { app, budget, reads, allowances };
}

async function errorOf(response: Response) {
  return {
    status: response.status,
    error: ((await response.json()) as { error: Record<string, unknown> }).error,
  };
}

/** A body of these chunks with no declared length, recording whether the reader gave up on it. */
function streamed(chunks: string[]) {
  const state = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[state.pulled++];
        if (chunk === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(chunk));
      },
      cancel() {
        state.cancelled = true;
      },
    },
    // Pulled only when read, so `pulled` counts the reader's reads.
    { highWaterMark: 0 },
  );
  return { body, state };
}

describe('request body', () => {
  it('is read once per request, through the injected reader, under the limit and with the request allowance', async () => {
    const { app, reads, allowances } = setup({
      asks: 3,
      reader: async () => new TextEncoder().encode('from the reader'),
    });
    const response = await app.request('/v1/payments', { method: 'POST', body: '{}' });
    expect(await response.json()).toEqual({
      bodies: ['from the reader', 'from the reader', 'from the reader'],
      held: 0,
    });
    expect(reads).toHaveLength(1);
    expect(reads[0]!.maxBytes).toBe(LIMIT);
    expect(reads[0]!.allowance).toBe(allowances[0]);
  });

  it('keeps an absent body too: null, read once', async () => {
    const { app, reads } = setup({ asks: 2 });
    const response = await app.request('/v1/payments/p_1');
    expect(await response.json()).toEqual({ bodies: [null, null], held: 0 });
    expect(reads).toHaveLength(1);
  });

  it('reads the Web Request whole up to the limit, taking its bytes from the allowance', async () => {
    const { app } = setup();
    const exact = 'x'.repeat(LIMIT);
    const declared = await app.request('/v1/payments', {
      method: 'POST',
      headers: { 'content-length': String(LIMIT) },
      body: exact,
    });
    expect(await declared.json()).toEqual({ bodies: [exact], held: LIMIT });
    const { body } = streamed(['{"amount":', '4500}']);
    const chunked = await app.request('/v1/payments', { method: 'POST', body, duplex: 'half' });
    expect(await chunked.json()).toEqual({ bodies: ['{"amount":4500}'], held: 15 });
    const empty = await app.request('/v1/payments', { method: 'POST', body: '' });
    expect(await empty.json()).toEqual({ bodies: [null], held: 0 });
  });

  it('refuses a declared length over the limit before reading: 413 body_too_large, nothing held', async () => {
    const { app, budget } = setup();
    const { body, state } = streamed(['x']);
    const response = await app.request('/v1/payments', {
      method: 'POST',
      headers: { 'content-length': String(LIMIT + 1) },
      body,
      duplex: 'half',
    });
    expect(await errorOf(response)).toEqual({
      status: 413,
      error: {
        code: 'body_too_large',
        message: `request body exceeds this route's limit of ${LIMIT} bytes`,
        limit: LIMIT,
      },
    });
    expect(state.pulled).toBe(0);
    expect(budget.used).toBe(0);
  });

  it('refuses an unsized body once it passes the limit, and stops reading it: 413 body_too_large', async () => {
    const { app } = setup();
    const { body, state } = streamed(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(10)]);
    const response = await app.request('/v1/payments', { method: 'POST', body, duplex: 'half' });
    expect(await errorOf(response)).toMatchObject({
      status: 413,
      error: { code: 'body_too_large', limit: LIMIT },
    });
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThan(3);
  });

  it('answers 503 body_budget_exhausted, Retry-After 1 and the connection closed, when the budget has no room', async () => {
    for (const headers of [{ 'content-length': '2' }, {}] as Record<string, string>[]) {
      const { app, budget } = setup({ budgetBytes: 100 });
      budget.tryTake(100);
      const response = await app.request('/v1/payments', { method: 'POST', headers, body: '{}' });
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('connection')).toBe('close');
      expect(await errorOf(response)).toMatchObject({
        status: 503,
        error: { code: 'body_budget_exhausted', limit: 100 },
      });
    }
  });
});
