/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { OpsStack, paymentStream, TOKENS } from './support/ops-harness.ts';

describe('admin API', () => {
  // A fresh gateway per test: revisions, history and the audit log start anew, whatever ran before.
  let stack: OpsStack;
  beforeEach(async () => {
    stack = await OpsStack.start();
  });
  afterEach(async () => stack?.stop());

  const yamlWith = (edit: (p: ReturnType<OpsStack['policy']>) => void) => {
    const policy = stack.policy();
    edit(policy);
    return stringify(policy);
  };
  const json = async (response: Response) => (await response.json()) as Record<string, any>;

  it('answers 401 without or with a wrong token, 403 for a viewer changing things, and audits both', async () => {
    const missing = await stack.admin('GET', '/admin/policy', { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await json(missing)).error.code).toBe('admin_unauthenticated');
    const wrong = await stack.admin('GET', '/admin/policy', { token: 'not-the-token-at-all-xx' });
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();

    const viewerRead = await stack.admin('GET', '/admin/policy', { token: TOKENS.viewer });
    expect(viewerRead.status).toBe(200);
    await viewerRead.arrayBuffer();
    const viewerWrite = await stack.admin('PUT', '/admin/policy', {
      token: TOKENS.viewer,
      body: 'x',
      headers: { 'if-match': '"x"' },
    });
    expect(viewerWrite.status).toBe(403);
    expect((await json(viewerWrite)).error.code).toBe('admin_forbidden');
    const viewerDrill = await stack.admin('POST', '/admin/drills', {
      token: TOKENS.viewer,
      body: '{}',
    });
    expect(viewerDrill.status).toBe(403);
    await viewerDrill.arrayBuffer();

    const rawAudit = await readFile(stack.auditFile, 'utf8');
    const audit = rawAudit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(audit.filter((r) => r.action === 'auth.failed' && r.outcome === 'denied')).toHaveLength(
      2,
    );
    expect(audit.filter((r) => r.action === 'auth.forbidden' && r.actor === 'bob')).toHaveLength(2);
    expect(rawAudit).not.toContain('not-the-token-at-all-xx');
    expect(rawAudit).not.toContain(TOKENS.viewer);
  });

  it('GET /admin/policy shows the policy with revision, hash and ETag', async () => {
    const response = await stack.admin('GET', '/admin/policy');
    const body = await json(response);
    expect(response.status).toBe(200);
    expect(body.revision).toBe(1);
    expect(body.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(response.headers.get('etag')).toBe(`"${body.hash}"`);
    expect(body.policy.paths.map((p: { id: string }) => p.id)).toEqual([
      'kt-fiber',
      'skt-fiber',
      'lgu-lte',
    ]);
    expect(body.source).toBe('startup');
  });

  it('validate and diff answer 400 with field paths for a bad policy, and the structured diff for a good one', async () => {
    const bad = await stack.admin('POST', '/admin/policy/validate', {
      body: yamlWith((p) => ((p.routes[0]!.paths as string[])[1] = 'skt-fibre')),
    });
    expect(bad.status).toBe(400);
    const badBody = await json(bad);
    expect(badBody.error.code).toBe('policy_invalid');
    expect(badBody.error.issues).toContainEqual(
      expect.objectContaining({
        path: 'routes[0].paths[1]',
        message: expect.stringContaining('unknown path "skt-fibre"'),
      }),
    );

    const outside = await stack.admin('POST', '/admin/policy/validate', {
      body: yamlWith((p) => (p.paths[2]!.upstream = 'http://127.0.0.1:9')),
    });
    expect(outside.status).toBe(400);
    expect((await json(outside)).error.issues[0].path).toBe('paths[2].upstream');

    const good = await stack.admin('POST', '/admin/policy/validate', {
      body: yamlWith((p) => (p.paths[2]!.grade = 'cold')),
    });
    expect(good.status).toBe(200);
    expect((await json(good)).valid).toBe(true);

    const diff = await json(
      await stack.admin('POST', '/admin/policy/diff', {
        token: TOKENS.viewer,
        body: yamlWith((p) => (p.paths[2]!.grade = 'cold')),
      }),
    );
    expect(diff.changes).toEqual([
      { field: 'paths[id=lgu-lte].grade', op: 'changed', from: 'warm', to: 'cold' },
    ]);
    expect(diff.summary.pathsChanged).toEqual(['lgu-lte']);

    const badDiff = await stack.admin('POST', '/admin/policy/diff', { body: 'version: 2' });
    expect(badDiff.status).toBe(400);
    await badDiff.arrayBuffer();
  });

  it('PUT needs If-Match (428), refuses a stale hash (412), applies while 200+ payments stream with 0 failed, keeps unchanged breakers', async () => {
    const current = await json(await stack.admin('GET', '/admin/policy'));
    const edited = yamlWith((p) => {
      p.paths[2]!.grade = 'cold';
      p.routes[0]!.deadlineMs = 6_000;
    });
    const noIfMatch = await stack.admin('PUT', '/admin/policy', { body: edited });
    expect(noIfMatch.status).toBe(428);
    await noIfMatch.arrayBuffer();
    const stale = await stack.admin('PUT', '/admin/policy', {
      body: edited,
      headers: { 'if-match': '"0000000000000000"' },
    });
    expect(stale.status).toBe(412);
    expect((await json(stale)).error.code).toBe('policy_stale');
    // If-Match compares strongly (RFC 9110 §13.1.1): the running hash as a weak tag never matches.
    const weak = await stack.admin('PUT', '/admin/policy', {
      body: edited,
      headers: { 'if-match': `W/"${current.hash}"` },
    });
    expect(weak.status).toBe(412);
    expect((await json(weak)).error.code).toBe('policy_stale');
    expect(stack.gateway.control.current().revision).toBe(current.revision);
    const invalid = await stack.admin('PUT', '/admin/policy', {
      body: 'version: 1\npaths: []',
      headers: { 'if-match': `"${current.hash}"` },
    });
    expect(invalid.status).toBe(400);
    await invalid.arrayBuffer();
    const changesAllowlist = await stack.admin('PUT', '/admin/policy', {
      body: yamlWith((p) => (p.admin = { upstreamAllowlist: ['http://127.0.0.1:9'] })),
      headers: { 'if-match': `"${current.hash}"` },
    });
    expect(changesAllowlist.status).toBe(400);
    expect((await json(changesAllowlist)).error.code).toBe('upstream_not_allowed');
    const changesRouting = await stack.admin('PUT', '/admin/policy', {
      body: yamlWith((p) => ((p as Record<string, unknown>).routing = { manage: true })),
      headers: { 'if-match': `"${current.hash}"` },
    });
    expect(changesRouting.status).toBe(400);
    const routingError = (await json(changesRouting)).error;
    expect(JSON.stringify(routingError)).toContain(
      'the routing block (routing tables paypath keeps on the host) can only be changed in the policy file',
    );

    const ktBreaker = stack.gateway.gateway.path('kt-fiber')!.breaker;
    const before = stack.gateway.gateway;
    let applied: Record<string, any> | undefined;
    let answeredBeforeApply = -1;
    const { statuses } = await paymentStream(stack, 'apply', 240, 8, async () => {
      const response = await stack.admin('PUT', '/admin/policy', {
        body: edited,
        headers: { 'if-match': `"${current.hash}"` },
      });
      applied = { status: response.status, ...(await json(response)) };
      answeredBeforeApply = stack.processor.charges.length;
    });
    // The apply landed mid-stream: payments were answered both before and after it (the stream
    // sends its last 8 only once the apply has been answered).
    expect(answeredBeforeApply).toBeGreaterThan(0);
    expect(answeredBeforeApply).toBeLessThanOrEqual(240 - 8);
    expect(applied?.status).toBe(200);
    expect(applied?.revision).toBe(2);
    expect(applied?.diff.changes).toHaveLength(2);
    expect(statuses).toHaveLength(240);
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    expect(stack.processor.duplicateCharges).toBe(0);
    expect(stack.gateway.gateway).not.toBe(before);
    expect(stack.gateway.gateway.policy.routes[0]!.deadlineMs).toBe(6_000);
    // kt-fiber's config did not change: same breaker object; lgu-lte changed: a new one.
    expect(stack.gateway.gateway.path('kt-fiber')!.breaker).toBe(ktBreaker);
    expect(before.sharesPath(stack.gateway.gateway, 'lgu-lte')).toBe(false);

    const second = await stack.admin('PUT', '/admin/policy', {
      body: edited,
      headers: { 'if-match': `"${current.hash}"` },
    });
    expect(second.status).toBe(412); // the same edit again, from the old hash, is stale now
    await second.arrayBuffer();
  });

  it('history lists revisions; rollback restores one as a new revision; unknown revision is 404, bad one 400', async () => {
    const current = await json(await stack.admin('GET', '/admin/policy'));
    const edited = yamlWith((p) => {
      p.paths[2]!.grade = 'cold';
      p.routes[0]!.deadlineMs = 6_000;
    });
    const applied = await stack.admin('PUT', '/admin/policy', {
      body: edited,
      headers: { 'if-match': `"${current.hash}"` },
    });
    expect(applied.status).toBe(200);
    await applied.arrayBuffer();

    const history = await json(
      await stack.admin('GET', '/admin/policy/history', { token: TOKENS.viewer }),
    );
    expect(history.current).toBe(2);
    expect(history.revisions.map((r: { revision: number }) => r.revision)).toEqual([2, 1]);
    expect(history.revisions[0].actor).toBe('alice');

    const missing = await stack.admin('POST', '/admin/policy/rollback/99');
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
    const bad = await stack.admin('POST', '/admin/policy/rollback/abc');
    expect(bad.status).toBe(400);
    await bad.arrayBuffer();

    const rollback = await stack.admin('POST', '/admin/policy/rollback/1');
    const body = await json(rollback);
    expect(rollback.status).toBe(200);
    expect(body.revision).toBe(3);
    expect(body.restoredFrom).toBe(1);
    expect(body.hash).toBe(history.revisions[1].hash);
    expect(stack.gateway.gateway.policy.paths[2]!.grade).toBe('warm');

    const statusResponse = await fetch(`${stack.gateway.url}/status`);
    const statusText = await statusResponse.text();
    const status = JSON.parse(statusText) as Record<string, any>;
    expect(status.policy).toMatchObject({ revision: 3, hash: body.hash, source: 'rollback' });
    // /status answers anyone: it names no admin token (the admin API's history does, above).
    expect(statusText).not.toContain('alice');
    expect(status.policy.actor).toBeUndefined();

    const audit = (await readFile(stack.auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const actions = audit.filter((r) => r.outcome === 'ok').map((r) => `${r.action}:${r.revision}`);
    expect(actions).toEqual(['policy.apply:2', 'policy.rollback:3']);
    expect(
      audit.find((r) => r.action === 'policy.apply' && r.outcome === 'ok').diff.changes,
    ).toHaveLength(2);
    const rawAudit = await readFile(stack.auditFile, 'utf8');
    expect(rawAudit).not.toContain(TOKENS.operator);
    expect(rawAudit).not.toContain(TOKENS.viewer);
  });
});
