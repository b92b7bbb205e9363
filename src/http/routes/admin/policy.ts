import { Hono } from 'hono';
import type { PolicyRevision } from '../../../core/admin/policy-store.ts';
import { PaypathError } from '../../../core/errors.ts';
import { analysePolicy, type PolicyAnalysis } from '../../../core/admin/policy-analysis.ts';
import { POLICY_LIMITS } from '../../../core/policy/parse.ts';
import { requireRole } from '../../middleware/admin-auth/index.ts';
import { readBody } from '../../read-body.ts';
import type { AdminAppEnv, AdminDeps } from './admin-deps.ts';

/** The policy as the admin API shows it. */
export function revisionJson(r: PolicyRevision, withPolicy: boolean) {
  return {
    revision: r.revision,
    hash: r.hash,
    appliedAt: r.appliedAt,
    actor: r.actor,
    source: r.source,
    restoredFrom: r.restoredFrom ?? null,
    ...(withPolicy ? { policy: r.policy } : {}),
  };
}

/**
 * Reads a policy document (YAML or JSON) from the body: 400 `policy_invalid` with field paths when
 * it is not one, 413 `policy_too_complex` when it passes a document limit (docs/ops.md).
 */
async function readPolicy(
  request: Request,
  analyse: (text: string) => Promise<PolicyAnalysis>,
): Promise<Extract<PolicyAnalysis, { ok: true }>> {
  const body = await readBody(request, POLICY_LIMITS.maxBytes);
  const text = body === null ? '' : new TextDecoder('utf-8', { fatal: false }).decode(body);
  if (text.trim() === '')
    throw new PaypathError(
      'policy_invalid',
      400,
      'the request body must be a policy document (YAML or JSON)',
      { details: { issues: [{ path: '', message: 'empty body' }] } },
    );
  const result = await analyse(text);
  if (!result.ok && result.limit) {
    throw new PaypathError(
      'policy_too_complex',
      413,
      result.issues[0]?.message ?? `the policy passes the ${result.limit.name} limit`,
      {
        details: { limit: result.limit.name, max: result.limit.max, issues: result.issues },
      },
    );
  }
  if (!result.ok)
    throw new PaypathError(
      'policy_invalid',
      400,
      `the policy has ${result.issues.length} problem(s)`,
      { details: { issues: result.issues } },
    );
  return result;
}

/**
 * `"abc"` or `abc` → `abc`. If-Match compares entity-tags strongly (RFC 9110 §13.1.1): a weak one
 * (`W/"abc"`) never matches, so the precondition fails (412) whatever runs.
 */
function etagValue(header: string, runningHash: string): string {
  const value = header.trim();
  if (/^W\//i.test(value)) {
    throw new PaypathError(
      'policy_stale',
      412,
      'If-Match takes the strong ETag from GET /admin/policy as it is; a weak one (W/"…") never matches (RFC 9110 §13.1.1)',
      {
        details: { runningHash },
      },
    );
  }
  return value.replace(/^"(.*)"$/, '$1');
}

export function adminPolicyRoutes(deps: AdminDeps): Hono<AdminAppEnv> {
  const app = new Hono<AdminAppEnv>();
  const { control, audit } = deps;
  const operator = requireRole('operator', audit);
  const analyseWith = deps.analysePolicy ?? analysePolicy;
  // Against the policy running when the document arrives.
  const analyse = (text: string) => analyseWith(text, control.current().policy);

  app.get('/policy', (c) => {
    const current = control.current();
    c.header('etag', `"${current.hash}"`);
    return c.json({ ...revisionJson(current, true), allowlist: control.allowlist() });
  });

  app.post('/policy/validate', async (c) => {
    const { policy, hash } = await readPolicy(c.req.raw, analyse);
    const issues = control.guardIssues(policy, 'api');
    if (issues.length > 0)
      throw new PaypathError(
        'upstream_not_allowed',
        400,
        'the policy is valid YAML but cannot be applied through the admin API',
        { details: { issues } },
      );
    return c.json({ valid: true, hash, paths: policy.paths.length, routes: policy.routes.length });
  });

  app.post('/policy/diff', async (c) => {
    const current = control.current();
    const { hash, diff } = await readPolicy(c.req.raw, (text) => analyseWith(text, current.policy));
    return c.json({
      from: { revision: current.revision, hash: current.hash },
      toHash: hash,
      ...diff,
    });
  });

  /** Runs `check`; a change it refuses is audited as rejected (what PolicyControl refuses, it audits itself). */
  const audited = async <T>(
    actor: string,
    action: string,
    check: () => T | Promise<T>,
  ): Promise<T> => {
    try {
      return await check();
    } catch (error) {
      if (error instanceof PaypathError) {
        await audit.append({
          time: new Date().toISOString(),
          actor,
          action,
          outcome: 'rejected',
          details: { code: error.code, ...error.details },
        });
      }
      throw error;
    }
  };

  app.put('/policy', operator, async (c) => {
    const { policy, expected } = await audited(c.get('admin').name, 'policy.apply', async () => {
      const ifMatch = c.req.header('if-match');
      if (ifMatch === undefined) {
        throw new PaypathError(
          'precondition_required',
          428,
          'send If-Match with the hash from GET /admin/policy, so a stale edit cannot overwrite a newer policy',
          {
            details: { runningHash: control.current().hash },
          },
        );
      }
      const { policy } = await readPolicy(c.req.raw, analyse);
      // `If-Match: *` deliberately overrides whatever runs (RFC 9110); anything else must be the running hash.
      return { policy, expected: etagValue(ifMatch, control.current().hash) };
    });
    const result = await control.apply({
      policy,
      actor: c.get('admin').name,
      source: 'api',
      ...(expected === '*' ? {} : { ifMatch: expected }),
    });
    c.header('etag', `"${result.revision.hash}"`);
    return c.json({
      applied: result.applied,
      ...revisionJson(result.revision, false),
      diff: result.diff,
    });
  });

  app.get('/policy/history', (c) =>
    c.json({
      current: control.current().revision,
      revisions: control.store.history().map((r) => revisionJson(r, false)),
    }),
  );

  app.get('/policy/history/:revision{[0-9]+}', (c) => {
    const revision = control.store.get(Number(c.req.param('revision')));
    if (!revision)
      throw new PaypathError(
        'policy_revision_not_found',
        404,
        `revision ${c.req.param('revision')} is not in the kept history`,
      );
    return c.json(revisionJson(revision, true));
  });

  app.post('/policy/rollback/:revision', operator, async (c) => {
    const text = c.req.param('revision');
    const expected = await audited(c.get('admin').name, 'policy.rollback', () => {
      if (!/^[0-9]{1,9}$/.test(text))
        throw new PaypathError(
          'invalid_request',
          400,
          `revision must be a positive integer, got "${text}"`,
          { details: { field: 'revision' } },
        );
      const ifMatch = c.req.header('if-match');
      return ifMatch === undefined ? '*' : etagValue(ifMatch, control.current().hash);
    });
    const result = await control.rollback(
      Number(text),
      c.get('admin').name,
      expected === '*' ? undefined : expected,
    );
    c.header('etag', `"${result.revision.hash}"`);
    return c.json({
      applied: result.applied,
      ...revisionJson(result.revision, false),
      diff: result.diff,
    });
  });

  return app;
}
