import type { AuditLog } from '../../../core/admin/audit.ts';
import type { DrillRunner } from '../../../core/admin/drills.ts';
import type { PolicyControl } from '../../../core/admin/policy-control.ts';
import type { AdminAuthenticator, AdminEnv } from '../../middleware/admin-auth/admin-auth.ts';
import type { AppEnv } from '../../app.ts';

/** What the admin API needs; the Node runtime builds it in src/adapters/node/ops.ts. */
export interface AdminDeps {
  authenticator: AdminAuthenticator;
  control: PolicyControl;
  drills: DrillRunner;
  audit: AuditLog;
}

export type AdminAppEnv = { Variables: AppEnv['Variables'] & AdminEnv['Variables'] };
