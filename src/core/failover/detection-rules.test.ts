import { describe, expect, it } from 'vitest';
import { RecordingBreaker } from '../../../test/support/recording-breaker.ts';
import { LatencyWindow } from '../health/latency-window.ts';
import { validatePolicyObject } from '../policy/parse.ts';
import type { UpstreamRequest, UpstreamResponse } from '../transport.ts';
import { AttemptError } from '../attempt-error.ts';
import { forwardWithFailover } from './failover.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';
import { RetryBudget } from './retry-budget.ts';

type Script = (request: UpstreamRequest, signal: AbortSignal) => Promise<UpstreamResponse>;
const json = (status: number, body: unknown): UpstreamResponse => ({
  status,
  headers: new Headers(),
  body: new Response(JSON.stringify(body)).body,
});
const hang: Script = (_req, signal) =>
  new Promise((_resolve, reject) =>
    signal.addEventListener('abort', () =>
      reject(new AttemptError('response_timeout', 'sent', 'timeout')),
    ),
  );

/** Routes fix a 30 ms attempt timeout unless `adaptive`. */
function setup(scripts: Record<string, Script>, { adaptive = false } = {}) {
  const ids = Object.keys(scripts);
  const parsed = validatePolicyObject({
    version: 1,
    paths: ids.map((id) => ({ id, upstream: 'http://processor.test' })),
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        paths: ids,
        attemptTimeoutMs: adaptive ? undefined : 30,
        idempotency: { upstreamHonors: true },
      },
    ],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const paths = new Map<
    string,
    PathRuntime & { breaker: RecordingBreaker; sends: number; lastAnsweredAt: number | undefined }
  >();
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
  const request = (): UpstreamRequest => ({
    method: 'POST',
    target: '/v1/payments',
    headers: new Headers(),
    body: new TextEncoder().encode('{}'),
  });
  return { route: parsed.policy.routes[0]!, paths, request };
}

describe('detection rules in the failover engine', () => {
  it("asks again on 409 key_in_use for its own key until the first attempt's stored result comes back", async () => {
    let asked = 0;
    const { route, paths, request } = setup({
      a: hang,
      b: async () =>
        ++asked < 3 ? json(409, { error: { code: 'key_in_use' } }) : json(201, { id: 'ch_1' }),
    });
    const result = await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k1' });
    expect(result.response.status).toBe(201);
    expect(result.pathId).toBe('b');
    expect(asked).toBe(3);
  });

  it('passes a 409 that is not key_in_use through unchanged', async () => {
    const { route, paths, request } = setup({
      a: hang,
      b: async () => json(409, { error: { code: 'conflict' } }),
    });
    const result = await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k2' });
    expect(result.response.status).toBe(409);
    expect(await new Response(result.response.body).json()).toEqual({
      error: { code: 'conflict' },
    });
  });

  it('excuses a timeout while no other path answered, and charges it once another path answers', async () => {
    const { route, paths, request } = setup({ a: hang, b: async () => json(201, {}) });
    await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k3' });
    const a = paths.get('a')!.breaker;
    expect(a.excused).toBe(1); // at the time of the timeout nobody else had answered
    expect(a.counted).toBe(1); // b then answered this very request: the fault was a's
  });

  it('does not charge a timed-out path that answered again before another path answered: the processor stalled', async () => {
    const { route, paths, request } = setup({
      a: hang,
      b: async () => {
        // When a processor stall ends, the queue it held on a is answered before the re-send on b.
        paths.get('a')!.lastAnsweredAt = Date.now();
        return json(201, {});
      },
    });
    await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k10' });
    const a = paths.get('a')!.breaker;
    expect(a.excused).toBe(1);
    expect(a.counted).toBe(0);
  });

  it('never lets the retry budget refuse a re-send after a timeout on a path while others answer', async () => {
    const { route, paths, request } = setup({ a: hang, b: async () => json(201, {}) });
    paths.get('b')!.lastAnsweredAt = Date.now(); // b answered lately (e.g. its probe)
    const budget = new RetryBudget({ percent: 0, minConcurrent: 0 });
    const result = await forwardWithFailover(route, request(), paths, {
      idempotencyKey: 'k4',
      retryBudget: budget,
    });
    expect(result.response.status).toBe(201);
    expect(budget.refused).toBe(0);
  });

  it('uses one budget slot per request, however many paths it tries', async () => {
    const { route, paths, request } = setup({ a: hang, b: hang, c: async () => json(201, {}) });
    const budget = new RetryBudget({ percent: 0, minConcurrent: 1 });
    const result = await forwardWithFailover(route, request(), paths, {
      idempotencyKey: 'k6',
      retryBudget: budget,
    });
    expect(result.pathId).toBe('c');
    expect(budget.refused).toBe(0);
    expect(budget.retrying).toBe(0); // released when the request ended
  });

  it('refuses a re-send when nobody answered and the budget is spent: outcome unknown, sent once', async () => {
    const { route, paths, request } = setup({ a: hang, b: async () => json(201, {}) });
    const budget = new RetryBudget({ percent: 0, minConcurrent: 0 });
    await expect(
      forwardWithFailover(route, request(), paths, { idempotencyKey: 'k5', retryBudget: budget }),
    ).rejects.toMatchObject({
      code: 'outcome_unknown',
    });
    expect(paths.get('b')!.sends).toBe(0);
    expect(budget.refused).toBe(1);
  });

  it('gives up an attempt when its path falls silent, before the adaptive timeout, and fails over', async () => {
    const { route, paths, request } = setup(
      { a: hang, b: async () => json(201, { id: 'ch_1' }) },
      { adaptive: true },
    );
    const a = paths.get('a')!;
    a.attemptTimeoutMs = () => 60_000; // the adaptive timeout alone would hold the payment for a minute
    const watched: number[] = [];
    a.watchSilence = (_route, startedAt, giveUp) => {
      watched.push(startedAt);
      setTimeout(
        () => giveUp('the path answered nothing for 20 ms while 2 later attempts waited'),
        1,
      );
      return () => {};
    };
    const result = await forwardWithFailover(route, request(), paths, { idempotencyKey: 'k7' });
    expect(result.pathId).toBe('b');
    expect(result.attempts.map((x) => `${x.pathId}:${x.code}`)).toEqual([
      'a:response_timeout',
      'b:http_201',
    ]);
    expect(watched).toHaveLength(1);
  });

  it('never cuts short a fixed attempt timeout, nor an attempt on the last usable path', async () => {
    const fixed = setup({ a: async () => json(201, {}), b: async () => json(201, {}) });
    const adaptive = setup({ a: async () => json(201, {}) }, { adaptive: true });
    let watched = 0;
    for (const { paths } of [fixed, adaptive]) {
      for (const p of paths.values()) p.watchSilence = () => (watched++, () => {});
    }
    await forwardWithFailover(fixed.route, fixed.request(), fixed.paths, { idempotencyKey: 'k8' });
    await forwardWithFailover(adaptive.route, adaptive.request(), adaptive.paths, {
      idempotencyKey: 'k9',
    });
    expect(watched).toBe(0);
  });
});
