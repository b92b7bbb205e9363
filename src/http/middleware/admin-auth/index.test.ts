import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { MemoryAuditLog } from '../../../core/admin/audit.ts';
import { PaypathError } from '../../../core/errors.ts';
import {
  AdminAuthenticator,
  adminAuth,
  parseAdminTokens,
  requireRole,
  type AdminEnv,
} from './index.ts';

const OPERATOR = 'operator-secret-0123456789';
const VIEWER = 'viewer-secret-0123456789';

describe('admin tokens', () => {
  it('parses name:role:token lists (commas or lines, comments) and names bad entries without echoing tokens', () => {
    expect(parseAdminTokens(`alice:operator:${OPERATOR}, bob:viewer:${VIEWER}`)).toEqual([
      { name: 'alice', role: 'operator', token: OPERATOR },
      { name: 'bob', role: 'viewer', token: VIEWER },
    ]);
    expect(parseAdminTokens(`# ops team\nalice:operator:${OPERATOR}\n\n`)).toHaveLength(1);
    expect(() => parseAdminTokens('carol:admin:short-but-secret-1234567')).toThrow(
      /entry 1 \(carol\): role must be viewer or operator/,
    );
    const tooShort = (() => {
      try {
        parseAdminTokens('dave:viewer:tiny-secret');
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(tooShort).toMatch(/at least 16/);
    expect(tooShort).not.toContain('tiny-secret');
    expect(() => parseAdminTokens(`a:viewer:${VIEWER},a:operator:${OPERATOR}`)).toThrow(
      /duplicate name/,
    );
  });

  it('authenticates only exact tokens', async () => {
    const auth = await AdminAuthenticator.create(
      parseAdminTokens(`alice:operator:${OPERATOR},bob:viewer:${VIEWER}`),
    );
    expect(await auth.authenticate(OPERATOR)).toEqual({ name: 'alice', role: 'operator' });
    expect(await auth.authenticate(VIEWER)).toEqual({ name: 'bob', role: 'viewer' });
    expect(await auth.authenticate(`${OPERATOR}x`)).toBeUndefined();
    expect(await auth.authenticate(OPERATOR.slice(0, -1))).toBeUndefined();
    expect(await auth.authenticate('')).toBeUndefined();
  });
});

describe('admin auth middleware', () => {
  const app = async (tokens: string) => {
    const audit = new MemoryAuditLog();
    const hono = new Hono<AdminEnv>();
    hono.onError((error) =>
      error instanceof PaypathError ? error.toResponse() : new Response('bug', { status: 500 }),
    );
    hono.use(
      '*',
      adminAuth({
        authenticator: await AdminAuthenticator.create(
          tokens === '' ? [] : parseAdminTokens(tokens),
        ),
        audit,
      }),
    );
    hono.get('/read', (c) => c.json({ who: c.get('admin').name }));
    hono.post('/write', requireRole('operator', audit), (c) =>
      c.json({ who: c.get('admin').name }),
    );
    hono.post('/write/:anything', requireRole('operator', audit), (c) =>
      c.json({ who: c.get('admin').name }),
    );
    return { hono, audit };
  };
  const call = (hono: Hono<AdminEnv>, method: string, path: string, token?: string) =>
    hono.request(path, {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });

  it('401 with a code for missing, malformed and wrong tokens; 403 for a viewer writing; every failure audited without the token', async () => {
    const { hono, audit } = await app(`alice:operator:${OPERATOR},bob:viewer:${VIEWER}`);
    expect((await call(hono, 'GET', '/read', OPERATOR)).status).toBe(200);
    expect(await (await call(hono, 'GET', '/read', VIEWER)).json()).toEqual({ who: 'bob' });

    const missing = await call(hono, 'GET', '/read');
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe(
      'admin_unauthenticated',
    );
    const malformed = await hono.request('/read', {
      headers: { authorization: `Basic ${OPERATOR}` },
    });
    expect(malformed.status).toBe(401);
    expect((await call(hono, 'GET', '/read', 'wrong-token-wrong-token')).status).toBe(401);

    const forbidden = await call(hono, 'POST', '/write', VIEWER);
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe(
      'admin_forbidden',
    );
    expect((await call(hono, 'POST', '/write', OPERATOR)).status).toBe(200);

    expect(audit.records.map((r) => `${r.action}:${r.details?.reason ?? r.actor}`)).toEqual([
      'auth.failed:missing',
      'auth.failed:malformed',
      'auth.failed:invalid_token',
      'auth.forbidden:bob',
    ]);
    const text = JSON.stringify(audit.records);
    expect(text).not.toContain(OPERATOR);
    expect(text).not.toContain(VIEWER);
    expect(text).not.toContain('wrong-token-wrong-token');
  });

  it('with no tokens configured, every request is 401', async () => {
    const { hono } = await app('');
    const response = await call(hono, 'GET', '/read', OPERATOR);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /no admin tokens/,
    );
  });

  it('keeps at most 200 characters of the path in a forbidden record, with its length', async () => {
    const { hono, audit } = await app(`alice:operator:${OPERATOR},bob:viewer:${VIEWER}`);
    const long = `/write/${'y'.repeat(15_000)}`;
    expect((await call(hono, 'POST', long, VIEWER)).status).toBe(403);
    expect(audit.records.at(-1)).toMatchObject({
      action: 'auth.forbidden',
      actor: 'bob',
      details: { method: 'POST', pathLength: long.length },
    });
    expect(audit.records.at(-1)!.details!.path).toBe(long.slice(0, 200));
  });
});
