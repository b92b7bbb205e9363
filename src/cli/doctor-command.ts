import { parseArgs } from 'node:util';
import {
  carrierTableCommands,
  networkdSections,
  networkManagerCommand,
} from '../core/egress/carrier-tables.ts';
import { egressKey } from '../core/egress/path-egress.ts';
import type { DoctorReport } from '../adapters/node/doctor.ts';
import { loadPolicyFile } from '../adapters/node/policy-file.ts';
import { table } from './table.ts';

export class DoctorUsageError extends Error {}

/**
 * `paypath doctor --policy FILE [--json]`: checks the policy against this box and prints, for what
 * is wrong, the commands that fix it. Exit 0 when nothing is wrong, 1 otherwise.
 */
export async function doctorCommand(
  args: string[],
  print: (text: string) => void,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { policy: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const file = values.policy ?? process.env.PAYPATH_POLICY;
  if (!file) throw new DoctorUsageError('doctor needs --policy FILE (or PAYPATH_POLICY)');
  const { policy } = await loadPolicyFile(file);
  const { runDoctor } = await import('../adapters/node/doctor.ts');
  const report = await runDoctor(policy);
  if (values.json)
    print(
      JSON.stringify(
        { ...report, commands: report.fixes.flatMap((f) => carrierTableCommands(f.table)) },
        null,
        2,
      ),
    );
  else print(formatDoctorReport(file, report));
  return report.problems.length === 0 ? 0 : 1;
}

export function formatDoctorReport(file: string, report: DoctorReport): string {
  const out: string[] = [`paypath doctor: ${file} on this box`, ''];
  out.push(
    table(
      ['PATH', 'SOURCE', 'ON', 'LEAVES BY', 'UPSTREAM', 'DNS'],
      report.paths.map((p) => [
        p.id,
        p.source ?? '(kernel picks)',
        p.sourceInterface,
        p.egress.state === 'known'
          ? `${egressKey(p.egress)}${p.egress.table ? ` (table ${p.egress.table})` : ''}`
          : p.egress.state === 'local'
            ? 'this box (loopback)'
            : p.egress.state,
        `${mark(p.upstream.ok)} ${p.upstream.detail}`,
        `${mark(p.dns.ok)} ${p.dns.detail}`,
      ]),
    ),
  );
  if (report.problems.length === 0) {
    out.push('', 'No problems found: every path has its address and leaves by its own carrier.');
    return out.join('\n');
  }
  out.push('', 'Problems:', ...report.problems.map((p) => `  - ${p}`));
  if (report.fixes.length > 0) {
    const missing = report.fixes.filter((f) => f.gatewayMissing).map((f) => f.table);
    if (missing.length > 0) {
      out.push(
        '',
        `The next hop of ${missing.map((t) => `${t.pathId} (${t.interface})`).join(', ')} is not in the policy or in any route: set \`gateway:\` on the path and run doctor again, or replace GATEWAY below.`,
      );
    }
    const withPlaceholder = report.fixes.map((f) =>
      f.gatewayMissing ? { ...f.table, gateway: 'GATEWAY' } : f.table,
    );
    out.push(
      '',
      'Fix now (as root; lost on reboot): a routing table per carrier',
      ...withPlaceholder.flatMap((t) => carrierTableCommands(t)).map((c) => `  ${c}`),
    );
    out.push(
      '',
      'Keep it with systemd-networkd:',
      withPlaceholder.map((t) => indent(networkdSections(t))).join('\n\n'),
    );
    out.push(
      '',
      'Keep it with NetworkManager:',
      ...withPlaceholder.map((t) => `  ${networkManagerCommand(t)}`),
    );
    out.push(
      '',
      'Or let paypath keep these tables itself (needs CAP_NET_ADMIN): routing: { manage: true } in the policy (docs/store-box.md).',
    );
  }
  return out.join('\n');
}

function mark(ok: boolean | null): string {
  return ok === null ? '-' : ok ? 'ok' : 'FAIL';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? '' : `  ${line}`))
    .join('\n');
}
