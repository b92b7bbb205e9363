import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsStack } from './support/ops-harness.ts';
import { until } from './support/poll.ts';
import { parsePrometheusText, sampleValue, type Family } from './support/prom-text.ts';

describe('/metrics', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    // Probes off: a probe landing between the cut and the payments would open the path before
    // the payments' own failures do, and this test counts those.
    stack = await OpsStack.start({ edit: (policy) => void (policy.probe = { enabled: false }) });
  });
  afterAll(async () => stack?.stop());

  const scrape = async () => {
    const response = await fetch(`${stack.gateway.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await response.text());
  };

  it('parses as Prometheus text and moves when a carrier is cut', async () => {
    for (let i = 0; i < 5; i++) expect((await stack.pay(`m-up-${i}`)).status).toBe(201);
    // The same key and body again: answered from the idempotency store. Same key, other body: a conflict.
    const replay = await stack.pay('m-up-0');
    expect([replay.status, replay.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect((await stack.pay('m-up-1', { amount: 1 })).status).toBe(422);
    const before = await scrape();
    expect(sampleValue(before, 'paypath_idempotency_replays_total', { route: 'payments' })).toBe(1);
    expect(sampleValue(before, 'paypath_idempotency_conflicts_total', { route: 'payments' })).toBe(
      1,
    );
    expect(sampleValue(before, 'paypath_queue_depth')).toBe(0);
    for (const name of [
      'paypath_requests_total',
      'paypath_path_attempts_total',
      'paypath_path_attempt_duration_seconds',
      'paypath_breaker_state',
      'paypath_breaker_transitions_total',
      'paypath_probes_total',
      'paypath_redundancy_level',
      'paypath_idempotency_replays_total',
      'paypath_idempotency_conflicts_total',
      'paypath_queue_depth',
      'paypath_policy_revision',
      'paypath_drills_total',
      'paypath_path_usage_requests_total',
    ]) {
      expect(before.has(name), name).toBe(true);
    }
    expect(
      sampleValue(before, 'paypath_requests_total', { route: 'payments', outcome: 'ok' }),
    ).toBe(6);
    expect(
      sampleValue(before, 'paypath_requests_total', {
        route: 'payments',
        class: 'payment',
        outcome: 'ok',
      }),
    ).toBe(6);
    expect(
      sampleValue(before, 'paypath_path_attempts_total', { path: 'kt-fiber', outcome: 'answered' }),
    ).toBe(5);
    expect(
      sampleValue(before, 'paypath_breaker_state', { path: 'kt-fiber', state: 'closed' }),
    ).toBe(1);
    expect(sampleValue(before, 'paypath_redundancy_level')).toBe(2);
    expect(sampleValue(before, 'paypath_policy_revision')).toBe(1);

    await stack.carrier('kt-fiber').setMode({ mode: 'reset' });
    for (let i = 0; i < 6; i++) expect((await stack.pay(`m-cut-${i}`)).status).toBe(201);
    const after = await scrape();
    expect(
      sampleValue(after, 'paypath_path_failures_total', { path: 'kt-fiber' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sampleValue(after, 'paypath_path_attempts_total', { path: 'skt-fiber', outcome: 'answered' }),
    ).toBe(6);
    expect(sampleValue(after, 'paypath_breaker_state', { path: 'kt-fiber', state: 'open' })).toBe(
      1,
    );
    expect(
      sampleValue(after, 'paypath_breaker_transitions_total', { path: 'kt-fiber', to: 'open' }),
    ).toBe(1);
    expect(sampleValue(after, 'paypath_redundancy_level')).toBe(1);
    expect(sampleValue(after, 'paypath_requests_total', { route: 'payments', outcome: 'ok' })).toBe(
      12,
    );
    expect(
      sampleValue(after, 'paypath_path_attempt_duration_seconds_count', { path: 'kt-fiber' }),
    ).toBeGreaterThan(
      sampleValue(before, 'paypath_path_attempt_duration_seconds_count', { path: 'kt-fiber' }),
    );
  });

  it('the strict parser rejects malformed text (so the test above can fail)', () => {
    expect(() => parsePrometheusText('# TYPE a counter\na{x="1" 1\n')).toThrow(/malformed/);
    expect(() => parsePrometheusText('b 1\n')).toThrow(/undeclared/);
    expect(() =>
      parsePrometheusText('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\nh_sum 1\n'),
    ).toThrow(/\+Inf/);
  });
});

describe('/metrics while probes run', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start({
      edit: (policy) => void (policy.probe = { intervalMs: 50, timeoutMs: 300 }),
    });
  });
  afterAll(async () => stack?.stop());

  const scrape = async () =>
    parsePrometheusText(await (await fetch(`${stack.gateway.url}/metrics`)).text());
  /** Scrapes until `done` holds; fails naming `what` if it still does not after 10 s. */
  const scrapeUntil = (what: string, done: (families: Map<string, Family>) => boolean) =>
    until(
      what,
      async () => {
        const families = await scrape();
        return done(families) && families;
      },
      { timeoutMs: 10_000 },
    );

  it('counts passed and failed probes and their durations per path', async () => {
    const start = await scrape();
    const okBefore = sampleValue(start, 'paypath_probes_total', { path: 'kt-fiber', result: 'ok' });
    const up = await scrapeUntil(
      'passing probes of kt-fiber',
      (f) =>
        sampleValue(f, 'paypath_probes_total', { path: 'kt-fiber', result: 'ok' }) >= okBefore + 3,
    );
    expect(
      sampleValue(up, 'paypath_probe_duration_seconds_count', { path: 'kt-fiber' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sampleValue(up, 'paypath_probe_duration_seconds_sum', { path: 'kt-fiber' }),
    ).toBeGreaterThan(0);
    // A busy machine may fail a probe on a live carrier too (timeout), so count failures from here on.
    const failedBefore = sampleValue(up, 'paypath_probes_total', {
      path: 'kt-fiber',
      result: 'failed',
    });

    await stack.carrier('kt-fiber').setMode({ mode: 'refuse' });
    await scrapeUntil(
      'failed probes of kt-fiber',
      (f) =>
        sampleValue(f, 'paypath_probes_total', { path: 'kt-fiber', result: 'failed' }) >=
        failedBefore + 2,
    );
    // Failed probes opened the path with no payment involved (two other paths are up).
    const cut = await scrapeUntil(
      'kt-fiber open',
      (f) => sampleValue(f, 'paypath_breaker_state', { path: 'kt-fiber', state: 'open' }) === 1,
    );
    expect(sampleValue(cut, 'paypath_requests_total')).toBe(0);
  });
});
