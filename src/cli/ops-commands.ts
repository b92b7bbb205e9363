import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { table } from './table.ts';

/** Commands that talk to a running gateway: status, drill, policy show|diff|apply|rollback|history, audit. */

export class CliUsageError extends Error {}

interface Connection {
  url: string;
  token: string | undefined;
  json: boolean;
  print: (text: string) => void;
}

const COMMON = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function connection(
  values: { url?: string | undefined; token?: string | undefined; json?: boolean | undefined },
  print: (text: string) => void,
): Connection {
  const url = (values.url ?? process.env.PAYPATH_URL ?? 'http://127.0.0.1:8787').replace(/\/$/, '');
  return {
    url,
    token: values.token ?? process.env.PAYPATH_ADMIN_TOKEN,
    json: values.json ?? false,
    print,
  };
}

/** An error answer from the gateway, printed with its code (and field paths, for policy problems). */
export class GatewayAnswerError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    const error = (
      body as {
        error?: {
          code?: string;
          message?: string;
          issues?: { path: string; message: string; line?: number; column?: number }[];
        };
      }
    ).error;
    const issues = (error?.issues ?? [])
      .map(
        (i) =>
          `\n  ${i.line !== undefined ? `${i.line}:${i.column}: ` : ''}${i.path === '' ? '' : `${i.path}: `}${i.message}`,
      )
      .join('');
    super(
      `${status} ${error?.code ?? 'error'}: ${error?.message ?? JSON.stringify(body)}${issues}`,
    );
    this.status = status;
    this.body = body;
  }
}

async function call(
  conn: Connection,
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<{ body: unknown; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  let response: Response;
  try {
    response = await fetch(`${conn.url}${path}`, {
      method,
      headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new Error(
      `cannot reach ${conn.url}: ${String((error as Error).cause ?? (error as Error).message)}`,
      { cause: error },
    );
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON; keep the text
  }
  if (!response.ok) throw new GatewayAnswerError(response.status, body);
  return { body, headers: response.headers };
}

export async function statusCommand(
  args: string[],
  print: (text: string) => void,
): Promise<number> {
  const { values } = parseArgs({ args, options: COMMON });
  const conn = connection(values, print);
  const { body } = await call(conn, 'GET', '/status');
  if (conn.json) {
    print(JSON.stringify(body, null, 2));
    return 0;
  }
  const status = body as StatusJson;
  const unproven = status.redundancy.unproven ?? [];
  print(
    `redundancy ${status.redundancy.level} (${status.redundancy.healthy}/${status.redundancy.total} independent paths healthy${unproven.length > 0 ? `; not counted, no payment or passing drill recently: ${unproven.join(', ')}` : ''})`,
  );
  for (const group of status.sharedEgress ?? []) {
    print(
      `           ${group.paths.join(', ')} all leave by ${group.egress}: they count as one path (per-carrier routing missing? run paypath doctor)`,
    );
  }
  print(
    `policy     revision ${status.policy.revision ?? '-'}, hash ${status.policy.hash}${status.policy.source ? `, ${status.policy.source}${status.policy.actor ? ` by ${status.policy.actor}` : ''}` : ''}`,
  );
  if (status.policyFile?.lastError) {
    print(`policy file ${status.policyFile.file} is INVALID (running policy kept):`);
    for (const issue of status.policyFile.lastError.issues)
      print(`  ${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`);
  }
  print('');
  print(
    table(
      [
        'PATH',
        'STATE',
        'GRADE',
        'EGRESS',
        'REQUESTS',
        'FAILURES',
        'P50 MS',
        'P99 MS',
        'LAST PASSING DRILL',
        'LAST ERROR',
      ],
      status.paths.map((p) => [
        p.id,
        p.state,
        p.grade,
        egressText(p.egress),
        p.requests,
        p.failures,
        p.latencyMs.p50,
        p.latencyMs.p99,
        p.lastPassingDrillAt,
        p.lastError ? `${p.lastError.code} at ${p.lastError.at}` : null,
      ]),
    ),
  );
  const drills = status.drills;
  if (drills && (drills.running || drills.recent.length > 0)) {
    print('');
    print(drillTable([...(drills.running ? [drills.running] : []), ...drills.recent]));
  }
  return 0;
}

/** `s1 via 10.201.1.1 from 10.201.3.2`, or the state and why (`no_address: interface wwan0 has no address`). */
function egressText(egress: EgressJson | undefined): string | null {
  if (!egress) return null;
  if (egress.state === 'known')
    return `${egress.interface}${egress.gateway ? ` via ${egress.gateway}` : ''}${egress.source ? ` from ${egress.source}` : ''}`;
  if (egress.state === 'local') return 'local';
  return `${egress.state}${egress.reason ? `: ${egress.reason}` : ''}`;
}

interface EgressJson {
  state: string;
  interface: string | null;
  gateway: string | null;
  source: string | null;
  reason: string | null;
}

interface StatusJson {
  redundancy: { level: string; healthy: number; total: number; unproven?: string[] };
  sharedEgress?: { egress: string; paths: string[] }[];
  policy: { hash: string; revision?: number; source?: string; actor?: string };
  policyFile?: {
    file: string | null;
    lastError: { issues: { path: string; message: string }[] } | null;
  };
  paths: {
    id: string;
    state: string;
    grade: string;
    egress?: EgressJson;
    requests: number;
    failures: number;
    latencyMs: { p50: number | null; p99: number | null };
    lastError: { code: string; at: string } | null;
    lastPassingDrillAt?: string | null;
  }[];
  drills?: { running: DrillJson | null; recent: DrillJson[] };
}

interface DrillJson {
  id: string;
  path: string;
  /** Every path the drill isolates (gateways before multi-path drills send only `path`). */
  paths?: string[];
  status: string;
  startedAt: string;
  durationMs: number;
  requests: number;
  failed: number;
  carriedBy: Record<string, number>;
  latencyMs: { added: number | null };
  endReason: string | null;
}

function drillTable(drills: DrillJson[]): string {
  return table(
    [
      'DRILL',
      'PATH',
      'STATUS',
      'STARTED',
      'DURATION MS',
      'REQUESTS',
      'FAILED',
      'CARRIED BY',
      'ADDED MS',
      'END',
    ],
    drills.map((d) => [
      d.id,
      (d.paths ?? [d.path]).join(','),
      d.status,
      d.startedAt,
      d.durationMs,
      d.requests,
      d.failed,
      Object.entries(d.carriedBy)
        .map(([p, n]) => `${p}:${n}`)
        .join(' ') || null,
      d.latencyMs.added,
      d.endReason,
    ]),
  );
}

export async function drillCommand(args: string[], print: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...COMMON,
      duration: { type: 'string', default: '10000' },
      wait: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0)
    throw new CliUsageError('drill takes one or more path ids, or stop');
  const conn = connection(values, print);
  if (positionals[0] === 'stop') {
    if (positionals.length !== 1)
      throw new CliUsageError('drill stop takes no path id: it ends the running drill');
    const { body } = await call(conn, 'POST', '/admin/drills/stop');
    const stopped = (body as { stopped: string | null }).stopped;
    print(
      conn.json
        ? JSON.stringify(body, null, 2)
        : stopped === null
          ? 'no drill was running'
          : `${stopped} stopped`,
    );
    return 0;
  }
  const durationMs = Number(values.duration);
  if (!Number.isInteger(durationMs))
    throw new CliUsageError(`--duration must be a number of ms, got "${values.duration}"`);
  const target = positionals.length === 1 ? { path: positionals[0] } : { paths: positionals };
  const { body } = await call(conn, 'POST', '/admin/drills', {
    body: JSON.stringify({ ...target, durationMs }),
    headers: { 'content-type': 'application/json' },
  });
  let drill = body as DrillJson;
  if (values.wait) {
    const deadline = Date.now() + durationMs + 30_000;
    while (Date.now() < deadline) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(1_000, Math.max(100, durationMs / 10))),
      );
      const { body: list } = await call(conn, 'GET', '/admin/drills');
      const done = (list as { recent: DrillJson[] }).recent.find((d) => d.id === drill.id);
      if (done) {
        drill = done;
        break;
      }
    }
  }
  if (conn.json) print(JSON.stringify(drill, null, 2));
  else print(drillTable([drill]));
  return drill.status === 'failed' ? 1 : 0;
}

interface ChangeJson {
  field: string;
  op: string;
  from?: unknown;
  to?: unknown;
}

function changeTable(changes: ChangeJson[]): string {
  if (changes.length === 0) return 'no changes';
  const show = (v: unknown) => (v === undefined ? null : truncate(JSON.stringify(v), 60));
  return table(
    ['FIELD', 'CHANGE', 'FROM', 'TO'],
    changes.map((c) => [c.field, c.op, show(c.from), show(c.to)]),
  );
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export async function policyCommand(
  args: string[],
  print: (text: string) => void,
): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: COMMON,
  });
  const conn = connection(values, print);
  const out = (body: unknown, text: () => string) =>
    print(conn.json ? JSON.stringify(body, null, 2) : text());
  switch (sub) {
    case 'show': {
      if (positionals.length !== 0)
        throw new CliUsageError('policy show takes no file: it prints the running policy');
      const { body } = await call(conn, 'GET', '/admin/policy');
      const running = body as {
        revision: number;
        hash: string;
        appliedAt: string;
        source: string;
        actor: string;
        policy: unknown;
      };
      // Comments, so the output can be saved, edited and applied as it is.
      out(body, () =>
        `# revision ${running.revision}, hash ${running.hash}, applied ${running.appliedAt} (${running.source}, by ${running.actor})\n${stringify(running.policy)}`.trimEnd(),
      );
      return 0;
    }
    case 'diff': {
      if (positionals.length !== 1) throw new CliUsageError('policy diff takes one policy file');
      const { body } = await call(conn, 'POST', '/admin/policy/diff', {
        body: await readFile(positionals[0]!, 'utf8'),
        headers: { 'content-type': 'application/yaml' },
      });
      const diff = body as { from: { revision: number }; changes: ChangeJson[] };
      out(
        body,
        () => `against running revision ${diff.from.revision}:\n${changeTable(diff.changes)}`,
      );
      return 0;
    }
    case 'apply': {
      if (positionals.length !== 1) throw new CliUsageError('policy apply takes one policy file');
      const text = await readFile(positionals[0]!, 'utf8');
      const { headers } = await call(conn, 'GET', '/admin/policy');
      const etag = headers.get('etag') ?? '';
      const { body } = await call(conn, 'PUT', '/admin/policy', {
        body: text,
        headers: { 'content-type': 'application/yaml', 'if-match': etag },
      });
      const result = body as {
        applied: boolean;
        revision: number;
        hash: string;
        diff: { changes: ChangeJson[] };
      };
      out(body, () =>
        result.applied
          ? `applied as revision ${result.revision} (hash ${result.hash})\n${changeTable(result.diff.changes)}`
          : `unchanged: revision ${result.revision} already runs this policy`,
      );
      return 0;
    }
    case 'rollback': {
      if (positionals.length !== 1 || !/^[0-9]+$/.test(positionals[0]!))
        throw new CliUsageError('policy rollback takes one revision number');
      const { body } = await call(conn, 'POST', `/admin/policy/rollback/${positionals[0]}`);
      const result = body as { revision: number; hash: string; diff: { changes: ChangeJson[] } };
      out(
        body,
        () =>
          `revision ${positionals[0]} restored as revision ${result.revision} (hash ${result.hash})\n${changeTable(result.diff.changes)}`,
      );
      return 0;
    }
    case 'history': {
      const { body } = await call(conn, 'GET', '/admin/policy/history');
      const history = body as {
        current: number;
        revisions: {
          revision: number;
          hash: string;
          appliedAt: string;
          actor: string;
          source: string;
          restoredFrom: number | null;
        }[];
      };
      out(body, () =>
        table(
          ['REVISION', 'HASH', 'APPLIED AT', 'SOURCE', 'ACTOR', 'NOTE'],
          history.revisions.map((r) => [
            `${r.revision}${r.revision === history.current ? ' *' : ''}`,
            r.hash,
            r.appliedAt,
            r.source,
            r.actor,
            r.restoredFrom === null ? null : `restores ${r.restoredFrom}`,
          ]),
        ),
      );
      return 0;
    }
    default:
      throw new CliUsageError(
        `policy needs a subcommand: show | diff FILE | apply FILE | rollback REVISION | history`,
      );
  }
}

interface AuditJson {
  time: string;
  actor: string;
  action: string;
  outcome: string;
  revision?: number;
  details?: Record<string, unknown>;
}

export async function auditCommand(args: string[], print: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...COMMON, limit: { type: 'string', default: '20' } },
  });
  if (positionals.length !== 0) throw new CliUsageError('audit takes no arguments but options');
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
    throw new CliUsageError(`--limit must be a whole number from 1 to 1000, got "${values.limit}"`);
  const conn = connection(values, print);
  const { body } = await call(conn, 'GET', `/admin/audit?limit=${limit}`);
  const records = (body as { records: AuditJson[] }).records;
  if (conn.json) print(JSON.stringify(body, null, 2));
  else if (records.length === 0) print('no audit records');
  else {
    print(
      table(
        ['TIME', 'ACTOR', 'ACTION', 'OUTCOME', 'REVISION', 'DETAILS'],
        records.map((r) => [
          r.time,
          r.actor,
          r.action,
          r.outcome,
          r.revision,
          r.details === undefined ? null : truncate(JSON.stringify(r.details), 80),
        ]),
      ),
    );
  }
  return 0;
}
