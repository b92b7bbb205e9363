/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsStack, TOKENS } from './support/ops-harness.ts';

describe('drills', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start({
      // A route that only lgu-lte serves: drilling lgu-lte would strand it.
      edit: (policy) => void policy.routes.push({ id: 'lte-only', match: { method: 'POST', path: '/v1/lte' }, class: 'other', paths: ['lgu-lte'] }),
    });
  });
  afterAll(async () => stack?.stop());

  const json = async (response: Response) => (await response.json()) as Record<string, any>;

  it('isolates the primary path while payments stream: 0 failed, the others carried them, result in /status and the audit log', async () => {
    // A baseline for the added-latency figure.
    for (let i = 0; i < 10; i++) await (await stack.pay(`d-base-${i}`)).arrayBuffer();

    const started = await stack.admin('POST', '/admin/drills', { body: JSON.stringify({ path: 'kt-fiber', durationMs: 1_500 }), headers: { 'content-type': 'application/json' } });
    const drill = await json(started);
    expect(started.status).toBe(202);
    expect(drill).toMatchObject({ path: 'kt-fiber', status: 'running', actor: 'alice' });
    expect(stack.gateway.gateway.path('kt-fiber')!.breaker.state).toBe('isolated');

    const busy = await stack.admin('POST', '/admin/drills', { body: JSON.stringify({ path: 'skt-fiber', durationMs: 1_000 }) });
    expect(busy.status).toBe(409);
    expect((await json(busy)).error.code).toBe('drill_running');

    // Payments keep flowing until the drill ends (bounded by count).
    const statuses: number[] = [];
    const carriedBy: string[] = [];
    for (let i = 0; i < 2_000 && stack.gateway.drills.running() !== null; i++) {
      const response = await stack.pay(`d-${i}`);
      await response.arrayBuffer();
      statuses.push(response.status);
      // Only answers that began and ended inside the drill say which paths carried it.
      if (stack.gateway.drills.running() !== null) carriedBy.push(response.headers.get('x-paypath-path') ?? '');
    }
    await expect.poll(() => stack.gateway.drills.running(), { timeout: 10_000 }).toBeNull();
    expect(carriedBy.length).toBeGreaterThan(5);
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    expect(new Set(carriedBy)).toEqual(new Set(['skt-fiber']));
    expect(stack.gateway.gateway.path('kt-fiber')!.breaker.state).toBe('closed');

    const result = (await json(await stack.admin('GET', '/admin/drills', { token: TOKENS.viewer }))).recent[0];
    expect(result).toMatchObject({ id: drill.id, status: 'passed', failed: 0, endReason: 'completed' });
    expect(result.requests).toBeGreaterThanOrEqual(statuses.length - 1);
    expect(result.carriedBy['skt-fiber']).toBe(result.requests);
    expect(result.latencyMs.baselineP50).not.toBeNull();
    expect(typeof result.latencyMs.added).toBe('number');

    const status = await json(await fetch(`${stack.gateway.url}/status`));
    expect(status.drills.recent[0]).toMatchObject({ id: drill.id, status: 'passed', trigger: 'api' });
    // /status answers anyone: the admin token's name stays in the admin API and the audit log.
    expect(status.drills.recent[0].actor).toBeUndefined();
    const audit = (await readFile(stack.auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.filter((r) => r.action === 'drill.start' && r.outcome === 'ok')).toHaveLength(1);
    expect(audit.find((r) => r.action === 'drill.end')).toMatchObject({ outcome: 'ok', details: { id: drill.id, failed: 0 } });
    expect(stack.processor.duplicateCharges).toBe(0);
  });

  it('refuses a drill that would leave a route without a healthy path, and bad requests', async () => {
    const refused = await stack.admin('POST', '/admin/drills', { body: JSON.stringify({ path: 'lgu-lte', durationMs: 1_000 }) });
    expect(refused.status).toBe(409);
    expect((await json(refused)).error).toMatchObject({ code: 'drill_refused', routes: ['lte-only'] });
    expect(stack.gateway.gateway.path('lgu-lte')!.breaker.state).toBe('closed');

    const unknown = await stack.admin('POST', '/admin/drills', { body: JSON.stringify({ path: 'nope', durationMs: 1_000 }) });
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
    const tooShort = await stack.admin('POST', '/admin/drills', { body: JSON.stringify({ path: 'kt-fiber', durationMs: 5 }) });
    expect(tooShort.status).toBe(400);
    await tooShort.arrayBuffer();
    const notJson = await stack.admin('POST', '/admin/drills', { body: 'path=kt' });
    expect(notJson.status).toBe(400);
    await notJson.arrayBuffer();

    const audit = (await readFile(stack.auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.filter((r) => r.action === 'drill.start' && r.outcome === 'refused').length).toBeGreaterThanOrEqual(3);
  });
});
