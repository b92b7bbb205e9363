import type { AuditLog } from '../../../core/admin/audit.ts';
import type { DrillRunner } from '../../../core/admin/drills.ts';
import type { PolicyControl } from '../../../core/admin/policy-control.ts';
import type { PolicyAnalysis } from '../../../core/admin/policy-analysis.ts';
import type { Policy } from '../../../core/policy/schema.ts';
import type { RateLimiter } from '../../../core/rate-limit/rate-limiter.ts';
import type { AdminAuthenticator, AdminEnv } from '../../middleware/admin-auth/index.ts';
import type { AppEnv } from '../../env.ts';

/** What the admin API needs; the Node runtime builds it in src/adapters/node/ops.ts. */
export interface AdminDeps {
  authenticator: AdminAuthenticator;
  control: PolicyControl;
  drills: DrillRunner;
  audit: AuditLog;
  /**
   * Parses and validates a policy document sent to the API, and hashes and diffs it against the
   * running policy. The Node runtime does this in a worker thread
   * (src/adapters/node/worker-policy-analyser.ts), so a long document never holds up a payment.
   * Default: analysePolicy on the calling thread (a Worker isolates each request anyway).
   */
  analysePolicy?: (text: string, running: Policy) => Promise<PolicyAnalysis>;
  /** Buckets of the per-token rate limit and of failed-authentication records. Default: in memory. */
  rateLimiter?: RateLimiter;
}

export type AdminAppEnv = { Variables: AppEnv['Variables'] & AdminEnv['Variables'] };
