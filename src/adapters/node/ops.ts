import type { RedisClient } from './redis/client.ts';
import { MemoryAuditLog, type AuditLog } from '../../core/admin/audit.ts';
import { DrillScheduler } from '../../core/admin/drill-scheduler.ts';
import { DrillRunner } from '../../core/admin/drills.ts';
import { PolicyControl, type GatewayFactory } from '../../core/admin/policy-control.ts';
import { RedactedAuditLog } from '../../core/admin/redacted-audit.ts';
import type { Logger } from '../../core/logger.ts';
import { canonicalJson } from '../../core/policy/hash.ts';
import { BudgetMeter, type BudgetWarning } from '../../core/metering/budget-meter.ts';
import type { Policy } from '../../core/policy/schema.ts';
import { WebhookSender } from '../../core/webhook-sender.ts';
import type { RequestRecord } from '../../core/request-record.ts';
import type { AppDeps } from '../../http/app.ts';
import {
  AdminAuthenticator,
  type AdminTokenEntry,
} from '../../http/middleware/admin-auth/index.ts';
import { JsonlAuditLog } from './audit-file.ts';
import { PrometheusMetrics } from './metrics.ts';
import { PolicyWatcher } from './policy-watcher.ts';
import { RedisStreamAuditLog } from './redis/audit-stream.ts';
import { WorkerPolicyAnalyser } from './worker-policy-analyser.ts';

export interface NodeOpsOptions {
  policy: Policy;
  policyHash: string;
  logger: Logger;
  /** Builds a gateway; receives the metrics to feed and the budget meter deciding which paths a route may use. */
  gatewayFactory: (parts: { metrics: PrometheusMetrics; meter: BudgetMeter }) => GatewayFactory;
  /** Sends budget warnings. Default: a WebhookSender (POST JSON, 2 s timeout per try, retried). */
  notify?: (url: string, warning: BudgetWarning) => void;
  /** The policy file: shown in /status and, with `watchPolicy`, reloaded when it changes. */
  policyFile?: string;
  /** Default: true when policyFile is set. */
  watchPolicy?: boolean;
  adminTokens?: readonly AdminTokenEntry[];
  /** JSON lines audit file. Default: in memory (the CLI defaults to ./paypath-audit.jsonl). */
  auditFile?: string;
  redis?: RedisClient;
  processMetrics?: boolean;
}

export interface NodeOps {
  control: PolicyControl;
  drills: DrillRunner;
  metrics: PrometheusMetrics;
  meter: BudgetMeter;
  audit: AuditLog;
  watcher: PolicyWatcher | undefined;
  appDeps: Omit<AppDeps, 'logger'>;
  close(): Promise<void>;
}

const MONITORING = new Set(['/healthz', '/readyz', '/status', '/metrics']);

/** Wires the ops surfaces for the Node runtime: policy control, audit, drills, metrics, request logs, file reload. */
export async function createNodeOps(options: NodeOpsOptions): Promise<NodeOps> {
  const { logger, redis } = options;
  const fileAudit: AuditLog = options.auditFile
    ? new JsonlAuditLog(options.auditFile, logger)
    : new MemoryAuditLog();
  // Redacted once, in front of every sink (the Redis stream falls back to the file with the redacted record).
  const audit: AuditLog = new RedactedAuditLog(
    options.redis ? new RedisStreamAuditLog(options.redis, fileAudit, logger) : fileAudit,
  );
  // The metrics read the control at scrape time; the control's gateways feed the metrics.
  const holder: { control?: PolicyControl } = {};
  const budgetWebhooks = new WebhookSender({ kind: 'budget', userAgent: 'paypath-budget', logger });
  const meter = new BudgetMeter({
    policy: () => holder.control!.current().policy,
    notify:
      options.notify ??
      ((url, warning) =>
        budgetWebhooks.send(url, warning, { path: warning.path, threshold: warning.threshold })),
    logger,
  });
  const metrics = new PrometheusMetrics({
    budgets: () => meter.usage(),
    status: () => holder.control!.gateway().status(),
    policy: () => {
      const current = holder.control!.current();
      return {
        revision: current.revision,
        hash: current.hash,
        fileValid: holder.control!.fileState.lastError === null,
        alertBelow: current.policy.redundancy.alertBelow,
      };
    },
    drillPaths: () => [
      ...new Set(
        holder.control!.current().policy.drills.flatMap((drill) => drill.paths ?? [drill.path!]),
      ),
    ],
    ...(redis ? { redisConnected: () => redis.status === 'ready' } : {}),
    processMetrics: options.processMetrics,
  });
  const control = new PolicyControl({
    policy: options.policy,
    hash: options.policyHash,
    gatewayFactory: options.gatewayFactory({ metrics, meter }),
    audit,
    logger,
    ...(options.policyFile ? { file: options.policyFile } : {}),
  });
  holder.control = control;
  const running = control;
  const drills = new DrillRunner({ gateway: () => running.gateway(), audit, metrics, logger });
  const scheduler = new DrillScheduler(drills, logger);
  scheduler.configure(options.policy.drills);
  let scheduled = canonicalJson(options.policy.drills);
  running.onApplied((revision) => {
    // Only a change to the drills resets their clocks; other applies leave the schedule alone.
    const next = canonicalJson(revision.policy.drills);
    if (next === scheduled) return;
    scheduled = next;
    scheduler.configure(revision.policy.drills);
  });

  const authenticator = await AdminAuthenticator.create(options.adminTokens ?? []);
  // Policy documents sent to the admin API are parsed off the event loop that carries payments.
  const policyAnalyser = new WorkerPolicyAnalyser({ logger });
  const watcher =
    options.policyFile && (options.watchPolicy ?? true)
      ? new PolicyWatcher({ file: options.policyFile, control: running, logger })
      : undefined;

  const onRequest = (record: RequestRecord) => {
    metrics.request(record);
    drills.observe(record);
    if (record.path !== undefined && record.routeClass !== undefined)
      meter.record(record.path, record.routeClass, record.requestBytes + record.responseBytes);
    logRequest(logger, record);
  };

  return {
    control: running,
    drills,
    metrics,
    meter,
    audit,
    watcher,
    appDeps: {
      gateway: () => running.gateway(),
      onRequest,
      metrics,
      admin: {
        authenticator,
        control: running,
        drills,
        audit,
        analysePolicy: (text, runningPolicy) => policyAnalyser.analyse(text, runningPolicy),
      },
      statusExtras: () => {
        const current = running.current();
        return {
          // /status is unauthenticated: no actor (an admin token's name) here; the admin API has them.
          policy: {
            revision: current.revision,
            appliedAt: current.appliedAt,
            source: current.source,
          },
          policyFile: running.fileState,
          drills: {
            running: withoutActor(drills.running()),
            recent: drills.recent().slice(0, 5).map(withoutActor),
          },
          usage: meter.usage(),
          payments: metrics.paymentTotals(),
        };
      },
    },
    close: async () => {
      watcher?.close();
      scheduler.stop();
      await drills.stop();
      await policyAnalyser.close();
      await running.close();
      budgetWebhooks.close();
    },
  };
}

/** The request log line: every routed request, and monitoring polls only when they fail. */
export function logRequest(logger: Logger, record: RequestRecord): void {
  if (MONITORING.has(record.pathname) && record.status < 500) return;
  const fields = {
    event: 'request',
    requestId: record.requestId,
    method: record.method,
    pathname: record.pathname,
    route: record.route ?? null,
    path: record.path ?? null,
    attempts: record.attempts,
    status: record.status,
    outcome: record.outcome,
    durationMs: record.durationMs,
  };
  const message = `${record.method} ${record.pathname} ${record.status} ${record.outcome}`;
  if (record.status >= 500) logger.warn(fields, message);
  else logger.info(fields, message);
}

function withoutActor<T extends { actor: string }>(drill: T): Omit<T, 'actor'>;
function withoutActor<T extends { actor: string }>(drill: T | null): Omit<T, 'actor'> | null;
function withoutActor<T extends { actor: string }>(drill: T | null): Omit<T, 'actor'> | null {
  if (drill === null) return null;
  const rest: Omit<T, 'actor'> & { actor?: string } = { ...drill };
  delete rest.actor;
  return rest;
}
