/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { POLICY_LIMITS } from '../src/core/policy/parse.ts';
import { OpsStack, TOKENS } from './support/ops-harness.ts';

// What the admin API refuses is audited, what it reads is shown: each test looks only at the audit
// records written while it ran, so the tests do not depend on one another's order.

const POLL = { timeout: 10_000, interval: 25 };

describe('admin API: refused changes, reloads, the audit and history endpoints', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start({ watchPolicy: true });
  });
  afterAll(async () => stack?.stop());

  const json = async (response: Response) => (await response.json()) as Record<string, any>;
  /** The audit file's lines (it is created with the first record). */
  const auditLines = async () => {
    const text = await readFile(stack.auditFile, 'utf8').catch((error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' ? '' : Promise.reject(error),
    );
    return text.split('\n').filter((line) => line !== '');
  };
  /** The audit records appended after `from` lines. */
  const auditSince = async (from: number) =>
    (await auditLines()).slice(from).map((line) => JSON.parse(line) as Record<string, any>);
  const running = async () => {
    const response = await stack.admin('GET', '/admin/policy');
    expect(response.status).toBe(200);
    return json(response);
  };
  const yamlWith = (edit: (p: ReturnType<OpsStack['policy']>) => void) => {
    const policy = stack.policy();
    edit(policy);
    return stringify(policy);
  };
  /** Sends a change that must be refused; answers the status and the error's code. */
  const refused = async (
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string> },
  ) => {
    const response = await stack.admin(method, path, init);
    return {
      status: response.status,
      code: (await json(response)).error?.code as string | undefined,
    };
  };

  it('audits every refused change as rejected with its code, and applies none of them', async () => {
    const { hash, revision } = await running();
    const from = (await auditLines()).length;
    const edit = yamlWith((p) => (p.routes[0]!.deadlineMs = 4_000));
    const attempts = [
      {
        action: 'policy.apply',
        answer: await refused('PUT', '/admin/policy', { body: edit }),
        expected: { status: 428, code: 'precondition_required' },
      },
      {
        action: 'policy.apply',
        answer: await refused('PUT', '/admin/policy', {
          body: edit,
          headers: { 'if-match': `W/"${hash}"` },
        }),
        expected: { status: 412, code: 'policy_stale' },
      },
      {
        action: 'policy.apply',
        answer: await refused('PUT', '/admin/policy', {
          body: edit,
          headers: { 'if-match': '"0000000000000000"' },
        }),
        expected: { status: 412, code: 'policy_stale' },
      },
      {
        action: 'policy.apply',
        answer: await refused('PUT', '/admin/policy', {
          body: 'version: 1\npaths: []',
          headers: { 'if-match': `"${hash}"` },
        }),
        expected: { status: 400, code: 'policy_invalid' },
      },
      {
        action: 'policy.apply',
        answer: await refused('PUT', '/admin/policy', {
          body: `# ${'x'.repeat(POLICY_LIMITS.maxBytes)}\n${edit}`,
          headers: { 'if-match': `"${hash}"` },
        }),
        expected: { status: 413, code: 'body_too_large' },
      },
      {
        action: 'policy.rollback',
        answer: await refused('POST', '/admin/policy/rollback/abc', {}),
        expected: { status: 400, code: 'invalid_request' },
      },
      {
        action: 'policy.rollback',
        answer: await refused('POST', '/admin/policy/rollback/1', {
          headers: { 'if-match': `W/"${hash}"` },
        }),
        expected: { status: 412, code: 'policy_stale' },
      },
      {
        action: 'policy.rollback',
        answer: await refused('POST', '/admin/policy/rollback/999', {}),
        expected: { status: 404, code: 'policy_revision_not_found' },
      },
    ];
    expect(attempts.map((a) => a.answer)).toEqual(attempts.map((a) => a.expected));
    const records = await auditSince(from);
    expect(
      records.map((r) => ({
        actor: r.actor,
        action: r.action,
        outcome: r.outcome,
        code: r.details?.code,
      })),
    ).toEqual(
      attempts.map((a) => ({
        actor: 'alice',
        action: a.action,
        outcome: 'rejected',
        code: a.expected.code,
      })),
    );
    expect((await running()).revision).toBe(revision);
  });

  it('refuses (413) a policy body over 1 MiB and a drill body over 16 KiB before parsing them, while payments go on', async () => {
    const validate = await stack.admin('POST', '/admin/policy/validate', {
      token: TOKENS.viewer,
      body: 'x'.repeat(POLICY_LIMITS.maxBytes + 1),
    });
    expect(validate.status).toBe(413);
    expect((await json(validate)).error).toMatchObject({
      code: 'body_too_large',
      limit: POLICY_LIMITS.maxBytes,
    });
    const diff = await stack.admin('POST', '/admin/policy/diff', {
      token: TOKENS.viewer,
      body: 'x'.repeat(POLICY_LIMITS.maxBytes + 1),
    });
    expect(diff.status).toBe(413);
    expect((await json(diff)).error.code).toBe('body_too_large');
    // A drill request is a few fields: a large one is refused too, and no drill starts.
    const drill = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ path: 'lgu-lte', durationMs: 100, pad: 'x'.repeat(20_000) }),
    });
    expect(drill.status).toBe(413);
    expect((await json(drill)).error).toMatchObject({ code: 'body_too_large', limit: 16_384 });
    expect(
      (await json(await stack.admin('GET', '/admin/drills', { token: TOKENS.viewer }))).running,
    ).toBeNull();
    const payment = await stack.pay(`after-413-${Date.now()}`);
    expect(payment.status).toBe(201);
    await payment.arrayBuffer();
  });

  it('refuses webhook URLs the policy file does not have, redundancy or budget (400, audited), and takes them from the file', async () => {
    const hook = 'http://127.0.0.1:9/paypath-alarms';
    const { hash, revision } = await running();
    const from = (await auditLines()).length;
    const withHooks = (p: ReturnType<OpsStack['policy']>) => {
      p.redundancy = { webhooks: [hook] };
      p.paths[2]!.budget = { requestsPerMonth: 1_000_000, webhooks: [hook] };
    };
    const response = await stack.admin('PUT', '/admin/policy', {
      body: yamlWith(withHooks),
      headers: { 'if-match': `"${hash}"` },
    });
    expect(response.status).toBe(400);
    const error = (await json(response)).error;
    expect(error.code).toBe('upstream_not_allowed');
    expect(error.issues.map((i: { path: string }) => i.path)).toEqual([
      'redundancy.webhooks[0]',
      'paths[2].budget.webhooks[0]',
    ]);
    expect(await auditSince(from)).toEqual([
      expect.objectContaining({
        actor: 'alice',
        action: 'policy.apply',
        outcome: 'rejected',
        details: expect.objectContaining({ code: 'upstream_not_allowed' }),
      }),
    ]);
    expect((await running()).revision).toBe(revision);

    // Whoever edits the file may add them; the API may then keep them in an edit.
    await writeFile(stack.policyFile, yamlWith(withHooks));
    await expect.poll(async () => (await running()).revision, POLL).toBe(revision + 1);
    const fromFile = await running();
    expect(fromFile.policy.redundancy.webhooks).toEqual([hook]);
    const kept = await stack.admin('PUT', '/admin/policy', {
      body: yamlWith((p) => {
        withHooks(p);
        p.routes[0]!.deadlineMs = 4_500;
      }),
      headers: { 'if-match': `"${fromFile.hash}"` },
    });
    expect(kept.status).toBe(200);
    expect((await json(kept)).revision).toBe(revision + 2);
  });

  it('audits file reloads: an applied change, an invalid file and a file outside its own allowlist', async () => {
    const { revision } = await running();
    const from = (await auditLines()).length;
    const actor = `file:${stack.policyFile}`;
    const reloads = async () =>
      (await auditSince(from)).filter((r) => r.action === 'policy.reload');

    await writeFile(
      stack.policyFile,
      yamlWith((p) => (p.paths[2]!.grade = 'cold')),
    );
    await expect.poll(async () => (await reloads()).length, POLL).toBe(1);
    const applied = (await reloads())[0]!;
    expect(applied).toMatchObject({ actor, outcome: 'ok', revision: revision + 1 });
    expect(applied.diff.changes).toContainEqual({
      field: 'paths[id=lgu-lte].grade',
      op: 'changed',
      from: 'warm',
      to: 'cold',
    });

    await writeFile(
      stack.policyFile,
      yamlWith((p) => ((p.routes[0] as Record<string, unknown>).deadlinMs = 10)),
    );
    await expect
      .poll(async () => (await reloads()).some((r) => r.outcome === 'rejected'), POLL)
      .toBe(true);
    expect((await reloads()).find((r) => r.outcome === 'rejected')).toMatchObject({
      actor,
      revision: revision + 1,
      details: {
        code: 'policy_invalid',
        issues: [expect.objectContaining({ path: 'routes[0].deadlinMs' })],
      },
    });

    await writeFile(
      stack.policyFile,
      yamlWith((p) => (p.paths[0]!.upstream = 'http://127.0.0.1:9')),
    );
    await expect
      .poll(
        async () =>
          (await reloads()).some((r) => r.details?.issues?.[0]?.path === 'paths[0].upstream'),
        POLL,
      )
      .toBe(true);
    expect((await reloads()).filter((r) => r.outcome === 'ok')).toHaveLength(1);
    expect((await running()).revision).toBe(revision + 1);
  });

  it('GET /admin/audit answers the newest records first, up to limit, to a viewer; refuses a bad limit', async () => {
    // Two records of its own, so there is something newest to find.
    for (const target of ['/admin/policy/rollback/x1', '/admin/policy/rollback/x2'])
      expect((await refused('POST', target, {})).status).toBe(400);
    const lines = await auditLines();
    const response = await stack.admin('GET', '/admin/audit?limit=2', { token: TOKENS.viewer });
    expect(response.status).toBe(200);
    const { records } = await json(response);
    expect(records).toEqual(
      lines
        .slice(-2)
        .reverse()
        .map((line) => JSON.parse(line)),
    );
    expect(records[0]).toMatchObject({
      actor: 'alice',
      action: 'policy.rollback',
      outcome: 'rejected',
    });
    const all = await json(await stack.admin('GET', '/admin/audit', { token: TOKENS.viewer }));
    expect(all.records).toHaveLength(Math.min(50, lines.length));
    for (const limit of ['0', '1001', '2.5', 'abc']) {
      const bad = await stack.admin('GET', `/admin/audit?limit=${limit}`, { token: TOKENS.viewer });
      expect(bad.status, limit).toBe(400);
      expect((await json(bad)).error).toMatchObject({ code: 'invalid_request', field: 'limit' });
    }
    const anonymous = await stack.admin('GET', '/admin/audit', { token: null });
    expect(anonymous.status).toBe(401);
    await anonymous.arrayBuffer();
  });

  it('GET /admin/policy/history lists kept revisions newest first; /history/{n} shows one with its policy', async () => {
    const current = await running();
    const history = await json(
      await stack.admin('GET', '/admin/policy/history', { token: TOKENS.viewer }),
    );
    expect(history.current).toBe(current.revision);
    const numbers = history.revisions.map((r: { revision: number }) => r.revision);
    expect(numbers[0]).toBe(current.revision);
    expect(numbers).toEqual([...numbers].sort((a: number, b: number) => b - a));
    expect(numbers.at(-1)).toBe(1);
    expect(history.revisions[0]).toEqual({
      revision: current.revision,
      hash: current.hash,
      appliedAt: current.appliedAt,
      actor: current.actor,
      source: current.source,
      restoredFrom: current.restoredFrom,
    });
    expect(history.revisions.at(-1)).toMatchObject({ revision: 1, source: 'startup' });

    const one = await stack.admin('GET', `/admin/policy/history/${current.revision}`, {
      token: TOKENS.viewer,
    });
    expect(one.status).toBe(200);
    const body = await json(one);
    expect(body).toMatchObject({ revision: current.revision, hash: current.hash });
    expect(body.policy).toEqual(current.policy);

    const missing = await stack.admin('GET', '/admin/policy/history/999', { token: TOKENS.viewer });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe('policy_revision_not_found');
    const notANumber = await stack.admin('GET', '/admin/policy/history/latest', {
      token: TOKENS.viewer,
    });
    expect(notANumber.status).toBe(404);
    expect((await json(notANumber)).error.code).toBe('route_not_found');
  });
});
