import { PaypathError } from '../errors.ts';
import type { Gateway } from '../gateway.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { policyHash } from '../policy/hash.ts';
import type { PolicyIssue } from '../policy/parse.ts';
import type { Policy } from '../policy/schema.ts';
import type { AuditLog } from './audit.ts';
import { diffPolicies, type PolicyDiff } from './policy-diff.ts';
import {
  InMemoryPolicyStore,
  type PolicyRevision,
  type PolicySource,
  type PolicyStore,
} from './policy-store.ts';
import { policyGuardIssues } from './policy-apply-guard.ts';
import { effectiveAllowlist } from './upstream-allowlist.ts';

export type GatewayFactory = (
  policy: Policy,
  hash: string,
  previous: Gateway | undefined,
) => Gateway;

export interface PolicyControlOptions {
  policy: Policy;
  hash: string;
  /** Builds the gateway for a policy; with `previous`, unchanged paths keep their breaker and transport. */
  gatewayFactory: GatewayFactory;
  audit: AuditLog;
  logger?: Logger;
  /** Default: an in-memory store keeping the last 50 revisions. */
  store?: PolicyStore;
  /** The file the startup policy came from, shown in /status. */
  file?: string;
  now?: () => Date;
}

export interface ApplyRequest {
  policy: Policy;
  actor: string;
  source: Exclude<PolicySource, 'startup'>;
  /** The hash the editor started from; a different running hash answers 412. */
  ifMatch?: string;
  restoredFrom?: number;
}

export interface ApplyResult {
  applied: boolean;
  revision: PolicyRevision;
  diff: PolicyDiff;
}

export interface PolicyFileState {
  file: string | null;
  /** The last reload problem, until a valid file is loaded again. */
  lastError: { at: string; issues: PolicyIssue[] } | null;
  lastLoadedAt: string | null;
}

/**
 * Owns the running policy: applies new ones atomically (a new Gateway; requests that started on
 * the old one finish there, then its removed paths are closed), keeps revisions for history and
 * rollback, and enforces the upstream allowlist. Applies are serialised, so If-Match holds.
 */
export class PolicyControl {
  readonly store: PolicyStore;
  readonly #factory: GatewayFactory;
  readonly #audit: AuditLog;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #listeners = new Set<(revision: PolicyRevision, gateway: Gateway) => void>();
  #gateway: Gateway;
  #trusted: Policy;
  #queue: Promise<unknown> = Promise.resolve();
  #retiring = new Set<Promise<void>>();
  readonly fileState: PolicyFileState;

  constructor(options: PolicyControlOptions) {
    this.#factory = options.gatewayFactory;
    this.#audit = options.audit;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
    this.store =
      options.store ??
      new InMemoryPolicyStore({
        policy: options.policy,
        hash: options.hash,
        actor: options.file ? `file:${options.file}` : 'startup',
        source: 'startup',
      });
    this.#trusted = options.policy;
    this.#gateway = this.#factory(options.policy, options.hash, undefined);
    this.fileState = {
      file: options.file ?? null,
      lastError: null,
      lastLoadedAt: options.file ? this.#now().toISOString() : null,
    };
  }

  /** The gateway for the running policy; read once per request. */
  gateway(): Gateway {
    return this.#gateway;
  }

  current(): PolicyRevision {
    return this.store.current();
  }

  /** Upstream origins/prefixes an API edit may use (set only by the policy file). */
  allowlist(): string[] {
    return effectiveAllowlist(this.#trusted);
  }

  onApplied(listener: (revision: PolicyRevision, gateway: Gateway) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  diff(candidate: Policy): PolicyDiff {
    return diffPolicies(this.current().policy, candidate);
  }

  /** Problems that keep `candidate` from being applied through the admin API (beyond schema validation). */
  guardIssues(candidate: Policy, source: ApplyRequest['source']): PolicyIssue[] {
    return policyGuardIssues(candidate, this.#trusted, source);
  }

  /** Applies a validated policy. Throws PaypathError 412 (stale If-Match) or 400 (allowlist); audits every outcome. */
  apply(request: ApplyRequest): Promise<ApplyResult> {
    const run = this.#queue.then(() => this.#apply(request));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #apply(request: ApplyRequest): Promise<ApplyResult> {
    const action =
      request.source === 'rollback'
        ? 'policy.rollback'
        : request.source === 'file'
          ? 'policy.reload'
          : 'policy.apply';
    const running = this.current();
    const details: Record<string, unknown> =
      request.restoredFrom !== undefined ? { restoredFrom: request.restoredFrom } : {};
    if (request.ifMatch !== undefined && request.ifMatch !== running.hash) {
      await this.#record({
        actor: request.actor,
        action,
        outcome: 'rejected',
        revision: running.revision,
        details: {
          ...details,
          code: 'policy_stale',
          ifMatch: request.ifMatch,
          runningHash: running.hash,
        },
      });
      throw new PaypathError(
        'policy_stale',
        412,
        `the running policy changed (hash ${running.hash}, revision ${running.revision}); fetch it again and redo the edit`,
        {
          details: { runningHash: running.hash, revision: running.revision },
        },
      );
    }
    const guard = this.guardIssues(request.policy, request.source);
    if (guard.length > 0) {
      await this.#record({
        actor: request.actor,
        action,
        outcome: 'rejected',
        revision: running.revision,
        details: { ...details, code: 'upstream_not_allowed', issues: guard },
      });
      throw new PaypathError(
        'upstream_not_allowed',
        400,
        'the policy points outside admin.upstreamAllowlist',
        { details: { issues: guard } },
      );
    }
    const diff = diffPolicies(running.policy, request.policy);
    const hash = await policyHash(request.policy);
    if (!diff.changed && request.source !== 'rollback') {
      if (request.source === 'file') this.#fileLoaded(request.policy);
      return { applied: false, revision: running, diff };
    }
    const previous = this.#gateway;
    const next = this.#factory(request.policy, hash, previous);
    this.#gateway = next; // from here on, new requests use the new policy; requests in flight keep the old gateway
    if (request.source === 'file') this.#fileLoaded(request.policy);
    const revision = this.store.record({
      policy: request.policy,
      hash,
      actor: request.actor,
      source: request.source,
      ...(request.restoredFrom !== undefined ? { restoredFrom: request.restoredFrom } : {}),
    });
    const retiring = previous
      .retire(next)
      .catch((error: unknown) =>
        this.#logger.error(
          { event: 'policy_retire_failed', err: String(error) },
          "closing the previous policy's paths failed",
        ),
      );
    this.#retiring.add(retiring);
    void retiring.finally(() => this.#retiring.delete(retiring));
    this.#logger.info(
      {
        event: 'policy_applied',
        revision: revision.revision,
        hash,
        actor: request.actor,
        source: request.source,
        changes: diff.changes.length,
      },
      `policy revision ${revision.revision} applied (${request.source}, ${request.actor})`,
    );
    await this.#record({
      actor: request.actor,
      action,
      outcome: 'ok',
      revision: revision.revision,
      diff,
      details: { ...details, hash },
    });
    for (const listener of this.#listeners) listener(revision, next);
    return { applied: true, revision, diff };
  }

  /** Applies an earlier revision again, as a new revision. */
  async rollback(revision: number, actor: string, ifMatch?: string): Promise<ApplyResult> {
    const target = this.store.get(revision);
    if (!target) {
      await this.#record({
        actor,
        action: 'policy.rollback',
        outcome: 'rejected',
        details: { code: 'policy_revision_not_found', target: revision },
      });
      throw new PaypathError(
        'policy_revision_not_found',
        404,
        `revision ${revision} is not in the kept history`,
        {
          details: { revision, kept: this.store.history().map((r) => r.revision) },
        },
      );
    }
    return this.apply({
      policy: target.policy,
      actor,
      source: 'rollback',
      restoredFrom: revision,
      ...(ifMatch !== undefined ? { ifMatch } : {}),
    });
  }

  /** A policy file that failed to load: the running policy stays; /status and the log say why. */
  async reportFileError(file: string, issues: PolicyIssue[]): Promise<void> {
    this.fileState.file = file;
    this.fileState.lastError = { at: this.#now().toISOString(), issues };
    this.#logger.error(
      { event: 'policy_reload_failed', file, issues },
      `policy file ${file} is invalid; keeping revision ${this.current().revision}`,
    );
    await this.#record({
      actor: `file:${file}`,
      action: 'policy.reload',
      outcome: 'rejected',
      revision: this.current().revision,
      details: { code: 'policy_invalid', issues },
    });
  }

  #fileLoaded(policy: Policy): void {
    this.#trusted = policy;
    this.fileState.lastError = null;
    this.fileState.lastLoadedAt = this.#now().toISOString();
  }

  async #record(record: Omit<Parameters<AuditLog['append']>[0], 'time'>): Promise<void> {
    await this.#audit.append({ time: this.#now().toISOString(), ...record });
  }

  /** Waits for retiring gateways, then closes the running one. */
  async close(): Promise<void> {
    await Promise.all([...this.#retiring]);
    await this.#gateway.close();
  }
}
