import { describe, expect, it } from 'vitest';
import { RecordingBreaker } from '../../../test/support/recording-breaker.ts';
import { LatencyWindow } from '../health/latency-window.ts';
import { validatePolicyObject } from '../policy/parse.ts';
import type { UpstreamRequest, UpstreamResponse } from '../transport.ts';
import { AttemptError } from './attempt-error.ts';
import { forwardWithFailover, type PathRuntime } from './failover.ts';
import { RetryBudget } from './retry-budget.ts';


type Script = (request: UpstreamRequest, signal: AbortSignal) => Promise<UpstreamResponse>;
const json = (status: number, body: unknown): UpstreamResponse => ({ status, headers: new Headers(), body: new Response(JSON.stringify(body)).body });
const hang: Script = (_req, signal) =>
  new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new AttemptError('response_timeout', 'sent', 'timeout'))));

function setup(scripts: Record<string, Script>) {
  const ids = Object.keys(scripts);
  const parsed = validatePolicyObject({
    version: 1,
    paths: ids.map((id) => ({ id, upstream: 'http://processor.test' })),
    routes: [{ id: 'payments', match: { method: 'POST', path: '/v1/payments' }, paths: ids, attemptTimeoutMs: 30, idempotency: { upstreamHonors: true } }],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const paths = new Map<string, PathRuntime & { breaker: RecordingBreaker; sends: number; lastAnsweredAt: number | undefined }>();
  for (const config of parsed.policy.paths) {
    const runtime = {
      config,
      breaker: new RecordingBreaker(),
      latency: new LatencyWindow(),
      sends: 0,
      lastAnsweredAt: undefined as number | undefined,
      recordAttempt(record: { outcome: string }) {
        if (record.outcome === 'answered') runtime.lastAnsweredAt = Date.now();
      },
      transport: {
        send: (request: UpstreamRequest, options: { signal: AbortSignal }) => {
          runtime.sends++;
          return scripts[config.id]!(request, options.signal);
        },
        close: async () => {},
      },
    };
    paths.set(config.id, runtime);
  }
  const request = (): UpstreamRequest => ({ method: 'POST', target: '/v1/payments', headers: new Headers(), body: new TextEncoder().encode('{}') });
  return { route: parsed.policy.routes[0]!, paths, request };
}

describe('detection rules in the failover engine', () => {
  it('asks again on 409 key_in_use for its own key until the first attempt\'s stored result comes back', async () => {
    let asked = 0;
    const { route, paths, request } = setup({
      a: hang,
      b: async () => (++asked < 3 ? json(409, { error: { code: 'key_in_use' } }) : json(201, { id: 'ch_1' })),
    });
    const result = await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k1' });
    expect(result.response.status).toBe(201);
    expect(result.pathId).toBe('b');
    expect(asked).toBe(3);
  });

  it('passes a 409 that is not key_in_use through unchanged', async () => {
    const { route, paths, request } = setup({ a: hang, b: async () => json(409, { error: { code: 'conflict' } }) });
    const result = await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k2' });
    expect(result.response.status).toBe(409);
    expect(await new Response(result.response.body).json()).toEqual({ error: { code: 'conflict' } });
  });

  it('excuses a timeout while no other path answered, and charges it once another path answers', async () => {
    const { route, paths, request } = setup({ a: hang, b: async () => json(201, {}) });
    await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k3' });
    const a = paths.get('a')!.breaker;
    expect(a.excused).toBe(1); // at the time of the timeout nobody else had answered
    expect(a.counted).toBe(1); // b then answered this very request: the fault was a's
  });

  it('never lets the retry budget refuse a re-send after a timeout on a path while others answer', async () => {
    const { route, paths, request } = setup({ a: hang, b: async () => json(201, {}) });
    paths.get('b')!.lastAnsweredAt = Date.now(); // b answered lately (e.g. its probe)
    const budget = new RetryBudget({ percent: 0, minConcurrent: 0 });
    const result = await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k4', retryBudget: budget });
    expect(result.response.status).toBe(201);
    expect(budget.refused).toBe(0);
  });

  it('uses one budget slot per request, however many paths it tries', async () => {
    const { route, paths, request } = setup({ a: hang, b: hang, c: async () => json(201, {}) });
    const budget = new RetryBudget({ percent: 0, minConcurrent: 1 });
    const result = await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k6', retryBudget: budget });
    expect(result.pathId).toBe('c');
    expect(budget.refused).toBe(0);
    expect(budget.retrying).toBe(0); // released when the request ended
  });

  it('refuses a re-send when nobody answered and the budget is spent: outcome unknown, sent once', async () => {
    const { route, paths, request } = setup({ a: hang, b: async () => json(201, {}) });
    const budget = new RetryBudget({ percent: 0, minConcurrent: 0 });
    await expect(forwardWithFailover(route, request(), paths, { idempotencyKey: 'k5', retryBudget: budget })).rejects.toMatchObject({
      code: 'outcome_unknown',
    });
    expect(paths.get('b')!.sends).toBe(0);
    expect(budget.refused).toBe(1);
  });
});
