import type { Context, MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import type { AuditLog } from '../../../core/admin/audit.ts';
import { PaypathError } from '../../../core/errors.ts';
import {
  MemoryRateLimiter,
  type BucketLimit,
  type RateLimiter,
} from '../../../core/rate-limit/rate-limiter.ts';
import { boundedRequest, FailedAuthAudit } from './failed-auth-audit.ts';

export const ADMIN_ROLES = ['viewer', 'operator'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export interface AdminTokenEntry {
  name: string;
  role: AdminRole;
  token: string;
}

export interface AdminIdentity {
  name: string;
  role: AdminRole;
}

export const MIN_TOKEN_LENGTH = 16;

/**
 * Parses `name:role:token,name:role:token` (also one entry per line, `#` comments), the format of
 * PAYPATH_ADMIN_TOKENS and of the token file. Errors name the entry by position and name, never the token.
 */
export function parseAdminTokens(spec: string): AdminTokenEntry[] {
  const entries = spec
    .split(/[,\n]/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const names = new Set<string>();
  return entries.map((entry, i) => {
    const [name, role, ...rest] = entry.split(':');
    const token = rest.join(':');
    const where = `admin token entry ${i + 1}${name ? ` (${name})` : ''}`;
    if (!name || !/^[A-Za-z0-9._@-]{1,64}$/.test(name))
      throw new Error(`${where}: expected name:role:token with a name of letters, digits, . _ @ -`);
    if (!ADMIN_ROLES.includes(role as AdminRole))
      throw new Error(`${where}: role must be viewer or operator`);
    if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
      throw new Error(
        `${where}: token must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces`,
      );
    }
    if (names.has(name)) throw new Error(`${where}: duplicate name`);
    names.add(name);
    return { name, role: role as AdminRole, token };
  });
}

/**
 * Checks bearer tokens in constant time: the presented token is compared with every configured
 * token (hashed first, so the time says nothing about either) without early exit.
 */
export class AdminAuthenticator {
  readonly #entries: readonly AdminTokenEntry[];

  private constructor(entries: readonly AdminTokenEntry[]) {
    this.#entries = entries;
  }

  static async create(tokens: readonly AdminTokenEntry[]): Promise<AdminAuthenticator> {
    return new AdminAuthenticator(tokens.map((t) => ({ ...t })));
  }

  get configured(): boolean {
    return this.#entries.length > 0;
  }

  async authenticate(token: string): Promise<AdminIdentity | undefined> {
    let match: AdminIdentity | undefined;
    for (const entry of this.#entries) {
      if (await timingSafeEqual(token, entry.token)) match = { name: entry.name, role: entry.role };
    }
    return match;
  }
}

export type AdminEnv = { Variables: { admin: AdminIdentity } };

export interface AdminAuthOptions {
  authenticator: AdminAuthenticator;
  audit: AuditLog;
  /** Buckets for failed-authentication records. Default: in memory. */
  limiter?: RateLimiter;
  /** Failed-authentication records per client address (the policy's admin.failedAuthAudit). Default: 1/s, burst 20. */
  failedAuthLimit?: () => BucketLimit;
  /** The client's network address, recorded with a failure and keying its bucket. */
  clientAddress?: (c: Context) => string | undefined;
}

/**
 * Authenticates every request under it (401 `admin_unauthenticated`) and records failures in the
 * audit log, bounded (see FailedAuthAudit). Roles are checked per route with `requireRole`.
 */
export function adminAuth(options: AdminAuthOptions): MiddlewareHandler<AdminEnv> {
  const failures = new FailedAuthAudit({
    audit: options.audit,
    limiter: options.limiter ?? new MemoryRateLimiter(),
    limit: options.failedAuthLimit ?? (() => ({ ratePerSecond: 1, burst: 20 })),
  });
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const identity =
      match && options.authenticator.configured
        ? await options.authenticator.authenticate(match[1]!)
        : undefined;
    if (!identity) {
      const reason = !options.authenticator.configured
        ? 'no_tokens_configured'
        : header === ''
          ? 'missing'
          : match
            ? 'invalid_token'
            : 'malformed';
      await failures.record({
        reason,
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        client: options.clientAddress?.(c),
      });
      throw new PaypathError(
        'admin_unauthenticated',
        401,
        options.authenticator.configured
          ? 'a valid admin bearer token is required'
          : 'the admin API is disabled: no admin tokens are configured',
        { headers: { 'www-authenticate': 'Bearer realm="paypath-admin"' } },
      );
    }
    c.set('admin', identity);
    await next();
  };
}

/** 403 `admin_forbidden` unless the caller's role is at least `role` (operator ⊃ viewer); denials are audited. */
export function requireRole(role: AdminRole, audit: AuditLog): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const identity = c.get('admin');
    if (role === 'operator' && identity.role !== 'operator') {
      await audit.append({
        time: new Date().toISOString(),
        actor: identity.name,
        action: 'auth.forbidden',
        outcome: 'denied',
        // Bounded like failed authentications: a viewer must not grow the log with long paths either.
        details: {
          role: identity.role,
          needs: role,
          ...boundedRequest(c.req.method, new URL(c.req.url).pathname),
        },
      });
      throw new PaypathError(
        'admin_forbidden',
        403,
        `this needs the ${role} role; token "${identity.name}" is a ${identity.role}`,
        {
          details: { role: identity.role, required: role },
        },
      );
    }
    await next();
  };
}
