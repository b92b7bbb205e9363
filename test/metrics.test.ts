import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsStack } from './support/ops-harness.ts';
import { parsePrometheusText, sampleValue } from './support/prom-text.ts';

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
    expect(sampleValue(before, 'paypath_idempotency_conflicts_total', { route: 'payments' })).toBe(1);
    expect(sampleValue(before, 'paypath_queue_depth')).toBe(0);
    for (const name of ['paypath_requests_total', 'paypath_path_attempts_total', 'paypath_path_attempt_duration_seconds', 'paypath_breaker_state', 'paypath_breaker_transitions_total', 'paypath_probes_total', 'paypath_redundancy_level', 'paypath_idempotency_replays_total', 'paypath_idempotency_conflicts_total', 'paypath_queue_depth', 'paypath_policy_revision', 'paypath_drills_total', 'paypath_path_usage_requests_total']) {
      expect(before.has(name), name).toBe(true);
    }
    expect(sampleValue(before, 'paypath_requests_total', { route: 'payments', outcome: 'ok' })).toBe(6);
    expect(sampleValue(before, 'paypath_requests_total', { route: 'payments', class: 'payment', outcome: 'ok' })).toBe(6);
    expect(sampleValue(before, 'paypath_path_attempts_total', { path: 'kt-fiber', outcome: 'answered' })).toBe(5);
    expect(sampleValue(before, 'paypath_breaker_state', { path: 'kt-fiber', state: 'closed' })).toBe(1);
    expect(sampleValue(before, 'paypath_redundancy_level')).toBe(2);
    expect(sampleValue(before, 'paypath_policy_revision')).toBe(1);

    await stack.carrier('kt-fiber').setMode({ mode: 'reset' });
    for (let i = 0; i < 6; i++) expect((await stack.pay(`m-cut-${i}`)).status).toBe(201);
    const after = await scrape();
    expect(sampleValue(after, 'paypath_path_failures_total', { path: 'kt-fiber' })).toBeGreaterThanOrEqual(3);
    expect(sampleValue(after, 'paypath_path_attempts_total', { path: 'skt-fiber', outcome: 'answered' })).toBe(6);
    expect(sampleValue(after, 'paypath_breaker_state', { path: 'kt-fiber', state: 'open' })).toBe(1);
    expect(sampleValue(after, 'paypath_breaker_transitions_total', { path: 'kt-fiber', to: 'open' })).toBe(1);
    expect(sampleValue(after, 'paypath_redundancy_level')).toBe(1);
    expect(sampleValue(after, 'paypath_requests_total', { route: 'payments', outcome: 'ok' })).toBe(12);
    expect(sampleValue(after, 'paypath_path_attempt_duration_seconds_count', { path: 'kt-fiber' })).toBeGreaterThan(sampleValue(before, 'paypath_path_attempt_duration_seconds_count', { path: 'kt-fiber' }));
  });

  it('the strict parser rejects malformed text (so the test above can fail)', () => {
    expect(() => parsePrometheusText('# TYPE a counter\na{x="1" 1\n')).toThrow(/malformed/);
    expect(() => parsePrometheusText('b 1\n')).toThrow(/undeclared/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\nh_sum 1\n')).toThrow(/\+Inf/);
  });
});
