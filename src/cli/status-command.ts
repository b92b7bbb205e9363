import { parseArgs } from 'node:util';
import { table } from './table.ts';
import { call, connection, CONNECTION_OPTIONS } from './gateway-client.ts';
import { drillTable, type DrillJson } from './drill-command.ts';

/** `paypath status`: redundancy, policy, per-path health and recent drills of a running gateway. */
export async function statusCommand(
  args: string[],
  print: (text: string) => void,
): Promise<number> {
  const { values } = parseArgs({ args, options: CONNECTION_OPTIONS });
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
