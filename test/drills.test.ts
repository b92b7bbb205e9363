/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsStack, TOKENS } from './support/ops-harness.ts';

describe('drills', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start({
      edit: (policy) => {
        // These tests are about which paths a drill leaves: an answer slowed by a busy machine must
        // not move a payment on to lgu-lte as a timed-out attempt would.
        policy.routes[0]!.attemptTimeoutMs = 5_000;
        // A route that only lgu-lte serves: drilling lgu-lte would strand it.
        policy.routes.push({
          id: 'lte-only',
          match: { method: 'POST', path: '/v1/lte' },
          class: 'other',
          paths: ['lgu-lte'],
        });
      },
    });
  });
  afterAll(async () => stack?.stop());

  const json = async (response: Response) => (await response.json()) as Record<string, any>;

  it('isolates the primary path while payments stream: 0 failed, the others carried them, result in /status and the audit log', async () => {
    // A baseline for the added-latency figure.
    for (let i = 0; i < 10; i++) await (await stack.pay(`d-base-${i}`)).arrayBuffer();

    const started = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ path: 'kt-fiber', durationMs: 1_500 }),
      headers: { 'content-type': 'application/json' },
    });
    const drill = await json(started);
    expect(started.status).toBe(202);
    expect(drill).toMatchObject({ path: 'kt-fiber', status: 'running', actor: 'alice' });
    expect(stack.gateway.gateway.path('kt-fiber')!.breaker.state).toBe('isolated');

    const busy = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ path: 'skt-fiber', durationMs: 1_000 }),
    });
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
      if (stack.gateway.drills.running() !== null)
        carriedBy.push(response.headers.get('x-paypath-path') ?? '');
    }
    await expect.poll(() => stack.gateway.drills.running(), { timeout: 10_000 }).toBeNull();
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    // Payments answered inside the drill (not how many: that depends on the machine's speed), all
    // by skt-fiber.
    expect(new Set(carriedBy)).toEqual(new Set(['skt-fiber']));
    expect(stack.gateway.gateway.path('kt-fiber')!.breaker.state).toBe('closed');

    const result = (await json(await stack.admin('GET', '/admin/drills', { token: TOKENS.viewer })))
      .recent[0];
    expect(result).toMatchObject({
      id: drill.id,
      status: 'passed',
      failed: 0,
      endReason: 'completed',
    });
    expect(result.requests).toBeGreaterThanOrEqual(statuses.length - 1);
    expect(result.carriedBy['skt-fiber']).toBe(result.requests);
    expect(result.latencyMs.baselineP50).not.toBeNull();
    expect(typeof result.latencyMs.added).toBe('number');

    const status = await json(await fetch(`${stack.gateway.url}/status`));
    expect(status.drills.recent[0]).toMatchObject({
      id: drill.id,
      status: 'passed',
      trigger: 'api',
    });
    // /status answers anyone: the admin token's name stays in the admin API and the audit log.
    expect(status.drills.recent[0].actor).toBeUndefined();
    const audit = (await readFile(stack.auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(audit.filter((r) => r.action === 'drill.start' && r.outcome === 'ok')).toHaveLength(1);
    expect(audit.find((r) => r.action === 'drill.end')).toMatchObject({
      outcome: 'ok',
      details: { id: drill.id, failed: 0 },
    });
    expect(stack.processor.duplicateCharges).toBe(0);
  });

  it('refuses a drill that would leave a route without a healthy path, and bad requests', async () => {
    const refused = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ path: 'lgu-lte', durationMs: 1_000 }),
    });
    expect(refused.status).toBe(409);
    expect((await json(refused)).error).toMatchObject({
      code: 'drill_refused',
      routes: ['lte-only'],
    });
    expect(stack.gateway.gateway.path('lgu-lte')!.breaker.state).toBe('closed');

    const unknown = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ path: 'nope', durationMs: 1_000 }),
    });
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
    const tooShort = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ path: 'kt-fiber', durationMs: 5 }),
    });
    expect(tooShort.status).toBe(400);
    await tooShort.arrayBuffer();
    const notJson = await stack.admin('POST', '/admin/drills', { body: 'path=kt' });
    expect(notJson.status).toBe(400);
    await notJson.arrayBuffer();

    const audit = (await readFile(stack.auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(
      audit.filter((r) => r.action === 'drill.start' && r.outcome === 'refused').length,
    ).toBeGreaterThanOrEqual(3);
  });
});

describe('drills isolating several paths at once (the demo: two fibers and LTE)', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start({
      // As in policies/default.yaml: billing never rides LTE, and queues while no path is left.
      edit: (policy) =>
        void policy.routes.push({
          id: 'billing',
          match: { method: 'POST', pathPrefix: '/v1/billing/' },
          class: 'billing',
          paths: ['kt-fiber', 'skt-fiber'],
          whenAllDown: 'queue',
          idempotency: { upstreamHonors: true },
        }),
    });
  });
  afterAll(async () => stack?.stop());

  const json = async (response: Response) => (await response.json()) as Record<string, any>;

  /** Runs a drill on `paths` while payments stream, and returns its result and which paths answered. */
  const drillWhilePaying = async (paths: string[], prefix: string) => {
    const started = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ paths, durationMs: 1_000 }),
      headers: { 'content-type': 'application/json' },
    });
    const drill = await json(started);
    expect(started.status).toBe(202);
    expect(drill).toMatchObject({ path: paths[0], paths, status: 'running' });
    for (const id of paths) expect(stack.gateway.gateway.path(id)!.breaker.state).toBe('isolated');
    const statuses: number[] = [];
    const carriedBy: string[] = [];
    for (let i = 0; i < 2_000 && stack.gateway.drills.running() !== null; i++) {
      const response = await stack.pay(`${prefix}-${i}`);
      await response.arrayBuffer();
      statuses.push(response.status);
      if (stack.gateway.drills.running() !== null)
        carriedBy.push(response.headers.get('x-paypath-path') ?? '');
    }
    await expect.poll(() => stack.gateway.drills.running(), { timeout: 10_000 }).toBeNull();
    const result = (await json(await stack.admin('GET', '/admin/drills', { token: TOKENS.viewer })))
      .recent[0];
    expect(result.id).toBe(drill.id);
    return { result, statuses, carriedBy };
  };

  it('drilling both fibers makes LTE carry every payment, 0 failed, and /status records when it carried a passing drill', async () => {
    const { result, statuses, carriedBy } = await drillWhilePaying(
      ['kt-fiber', 'skt-fiber'],
      'fibers',
    );
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    // Payments answered inside the drill (how many depends on the machine's speed), all by LTE.
    expect(new Set(carriedBy)).toEqual(new Set(['lgu-lte']));
    expect(result).toMatchObject({
      status: 'passed',
      failed: 0,
      endReason: 'completed',
      paths: ['kt-fiber', 'skt-fiber'],
    });
    expect(result.carriedBy).toEqual({ 'lgu-lte': result.requests });
    expect(stack.processor.duplicateCharges).toBe(0);

    const status = await json(await fetch(`${stack.gateway.url}/status`));
    const byId = Object.fromEntries(status.paths.map((p: any) => [p.id, p]));
    expect(Date.parse(byId['lgu-lte'].lastPassingDrillAt)).toBeGreaterThanOrEqual(
      Date.parse(result.startedAt),
    );
    expect(byId['kt-fiber'].lastPassingDrillAt).toBeNull();
    expect(byId['skt-fiber'].lastPassingDrillAt).toBeNull();
    expect(status.drills.recent[0]).toMatchObject({
      id: result.id,
      paths: ['kt-fiber', 'skt-fiber'],
    });
  });

  it('a billing upload during a drill of both fibers waits in the queue and is forwarded once the drill ends', async () => {
    const started = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ paths: ['kt-fiber', 'skt-fiber'], durationMs: 500 }),
      headers: { 'content-type': 'application/json' },
    });
    expect(started.status).toBe(202);
    await started.arrayBuffer();
    const upload = await fetch(`${stack.gateway.url}/v1/billing/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'bill-during-drill' },
      body: '{"records": [1, 2]}',
    });
    expect(upload.status).toBe(202);
    const queued = (await upload.json()) as { queued: boolean; id: string };
    expect(queued.queued).toBe(true);
    await expect.poll(() => stack.gateway.drills.running(), { timeout: 10_000 }).toBeNull();
    await expect
      .poll(
        async () =>
          (
            (await (await fetch(`${stack.gateway.url}/v1/queue/${queued.id}`)).json()) as {
              state: string;
            }
          ).state,
        { timeout: 10_000, interval: 100 },
      )
      .toBe('forwarded');
    expect(stack.processor.requests.get('/v1/billing/upload')).toBe(1);
    // Queued is an answer, not a failure: the drill passed.
    expect(stack.gateway.drills.recent()[0]).toMatchObject({
      status: 'passed',
      failed: 0,
      requests: 1,
    });
  });

  it('after drills in turn, /status shows for each path when it last carried a passing drill', async () => {
    const skt = await drillWhilePaying(['lgu-lte', 'kt-fiber'], 'turn-skt');
    expect(skt.result).toMatchObject({ status: 'passed', failed: 0 });
    expect(new Set(skt.carriedBy)).toEqual(new Set(['skt-fiber']));
    const kt = await drillWhilePaying(['skt-fiber', 'lgu-lte'], 'turn-kt');
    expect(kt.result).toMatchObject({ status: 'passed', failed: 0 });
    expect(new Set(kt.carriedBy)).toEqual(new Set(['kt-fiber']));
    const status = await json(await fetch(`${stack.gateway.url}/status`));
    for (const path of status.paths) {
      expect(path.lastPassingDrillAt, path.id).not.toBeNull();
      expect(path.proven, path.id).toBe(true);
    }
    expect(status.redundancy).toEqual({ healthy: 3, total: 3, level: 'N+2' });
  });

  it('refuses a drill that would leave a route no path, isolating nothing, and a path listed twice', async () => {
    const all = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ paths: ['kt-fiber', 'skt-fiber', 'lgu-lte'], durationMs: 1_000 }),
    });
    expect(all.status).toBe(409);
    expect((await json(all)).error).toMatchObject({ code: 'drill_refused', routes: ['payments'] });
    for (const id of ['kt-fiber', 'skt-fiber', 'lgu-lte'])
      expect(stack.gateway.gateway.path(id)!.breaker.state).toBe('closed');
    const twice = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ paths: ['kt-fiber', 'kt-fiber'], durationMs: 1_000 }),
    });
    expect(twice.status).toBe(400);
    expect((await json(twice)).error.message).toMatch(/listed twice/);
    const both = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ path: 'kt-fiber', paths: ['skt-fiber'], durationMs: 1_000 }),
    });
    expect(both.status).toBe(400);
    await both.arrayBuffer();
  });
});
