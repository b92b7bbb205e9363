// The dashboard's only way to the gateway: /status (public) and /admin (bearer token), same origin.

export type Role = 'viewer' | 'operator';
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated' | string;

export interface PathStatus {
  id: string;
  state: BreakerState;
  grade: string;
  requests: number;
  failures: number;
  latencyMs: { p50: number | null; p99: number | null };
  lastError: { code: string; at: string } | null;
  /** Present when the gateway runs active probes. */
  lastProbe?: { latencyMs: number; at: string; error: string | null } | null;
  /** Set (ISO) once the path has answered nothing, payments or probes, for the detection window. */
  silentSince?: string | null;
  transitions: { from: string; to: string; at: number; reason: string }[];
  /** How the kernel sends this path's packets (absent from older gateways). */
  egress?: {
    state: string;
    interface: string | null;
    gateway: string | null;
    source: string | null;
    reason: string | null;
    sharedWith: string[];
  };
  /** When the path last carried traffic during a passing drill (ISO); absent from older gateways. */
  lastPassingDrillAt?: string | null;
  /** When it last proved itself, by a passing drill or an answered request (ISO). */
  provenAt?: string | null;
  /** False once unproven for longer than the policy allows: then it counts as no spare. */
  proven?: boolean;
  /** Since when (ISO) the path is degraded: it answers, but too many recent exchanges were slow or failed. */
  degradedSince?: string | null;
  /** Share of its recent exchanges that were slow or failed, in %. */
  badPercent?: number | null;
}

export interface Drill {
  id: string;
  path: string;
  /** Every path the drill isolates (several make the spare of last resort carry traffic). */
  paths?: string[];
  /** Of the drill's requests, how many each other path carried. */
  carriedBy?: Record<string, number>;
  /** Who started it, from the admin API; /status leaves it out (it names admin tokens). */
  actor?: string;
  trigger?: string;
  status: string;
  startedAt: string;
  endedAt?: string | null;
  durationMs: number;
  endReason?: string | null;
  requests?: number;
  failed?: number;
}

export interface Status {
  /** `unproven`: healthy paths the level leaves out, unproven for longer than the policy allows. */
  redundancy: { healthy: number; total: number; level: string; unproven?: string[] };
  /** Paths counted as one because their packets leave the same way. */
  sharedEgress?: { egress: string; paths: string[] }[];
  paths: PathStatus[];
  policy: {
    version: number;
    hash: string;
    revision?: number;
    appliedAt?: string;
    actor?: string;
    source?: string;
  };
  drills?: { running: Drill | null; recent: Drill[] };
  /** The watched policy file; `lastError` while the file on disk is invalid (the running policy is kept). */
  policyFile?: {
    file: string | null;
    lastError: { at: string; issues: { path: string; message: string }[] } | null;
    lastLoadedAt?: string | null;
  };
  /** Payments since the gateway started, and how many got the processor's definitive answer (a decline included). */
  payments?: { total: number; answered: number };
}

export interface PolicyIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export interface RevisionInfo {
  revision: number;
  hash: string;
  appliedAt: string;
  actor: string;
  source: string;
  restoredFrom: number | null;
}

export interface DiffResult {
  from: { revision: number; hash: string };
  toHash: string;
  changed: boolean;
  changes: { field: string; op: string; from?: unknown; to?: unknown }[];
}

/** An error answer from the gateway, with its stable code and (for policies) the issues. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: PolicyIssue[];
  constructor(status: number, code: string, message: string, issues: PolicyIssue[]) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

export class Api {
  readonly token: string;
  constructor(token: string) {
    this.token = token;
  }

  async request<T>(
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string> } = {},
  ): Promise<{ body: T; headers: Headers }> {
    const response = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(init.body !== undefined ? { 'content-type': 'application/yaml' } : {}),
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: init.body } : {}),
      cache: 'no-store',
    });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      // A proxy in front may answer with HTML; report its status below.
    }
    if (!response.ok) {
      const error = (
        json as {
          error?: {
            code?: string;
            message?: string;
            issues?: PolicyIssue[];
            details?: { issues?: PolicyIssue[] };
          };
        } | null
      )?.error;
      throw new ApiError(
        response.status,
        error?.code ?? `http_${response.status}`,
        error?.message ?? `HTTP ${response.status}`,
        error?.issues ?? error?.details?.issues ?? [],
      );
    }
    return { body: json as T, headers: response.headers };
  }

  session() {
    return this.request<{ name: string; role: Role }>('GET', '/admin/session').then((r) => r.body);
  }
  policy() {
    return this.request<RevisionInfo & { policy: unknown }>('GET', '/admin/policy').then(
      (r) => r.body,
    );
  }
  validate(yaml: string) {
    return this.request<{ valid: true; hash: string }>('POST', '/admin/policy/validate', {
      body: yaml,
    }).then((r) => r.body);
  }
  diff(yaml: string) {
    return this.request<DiffResult>('POST', '/admin/policy/diff', { body: yaml }).then(
      (r) => r.body,
    );
  }
  apply(yaml: string, hash: string) {
    return this.request<RevisionInfo & { applied: boolean }>('PUT', '/admin/policy', {
      body: yaml,
      headers: { 'if-match': `"${hash}"` },
    }).then((r) => r.body);
  }
  history() {
    return this.request<{ current: number; revisions: RevisionInfo[] }>(
      'GET',
      '/admin/policy/history',
    ).then((r) => r.body);
  }
  rollback(revision: number) {
    return this.request<RevisionInfo & { applied: boolean }>(
      'POST',
      `/admin/policy/rollback/${revision}`,
    ).then((r) => r.body);
  }
  drill(path: string, durationMs: number) {
    return this.request<Drill>('POST', '/admin/drills', {
      body: JSON.stringify({ path, durationMs }),
      headers: { 'content-type': 'application/json' },
    }).then((r) => r.body);
  }
  stopDrill() {
    return this.request<{ stopped: string | null }>('POST', '/admin/drills/stop').then(
      (r) => r.body,
    );
  }
}

export async function fetchStatus(): Promise<Status> {
  const response = await fetch('/status', { cache: 'no-store' });
  if (!response.ok) throw new Error(`/status answered ${response.status}`);
  return (await response.json()) as Status;
}
