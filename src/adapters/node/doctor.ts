import { carrierTable, type CarrierTable } from '../../core/egress/carrier-tables.ts';
import { addressFamily, isIpLiteral, type BoxInterfaces } from '../../core/egress/egress-probe.ts';
import {
  checkPathEgress,
  egressKey,
  interfaceAddress,
  sharedEgressGroups,
  upstreamHost,
  type PathEgress,
} from '../../core/egress/path-egress.ts';
import type { PathConfig, Policy } from '../../core/policy/schema.ts';
import { nodeDoctorDeps, type DoctorDeps } from './doctor-deps.ts';

/** A check's outcome: ok, failed (with what was seen), or not applicable. */
export interface DoctorCheck {
  ok: boolean | null;
  detail: string;
}

export interface DoctorPathReport {
  id: string;
  /** The path's source address (bind, or its interface's current address), if any. */
  source: string | null;
  /** The interface that holds the source address. */
  sourceInterface: string | null;
  egress: PathEgress;
  upstream: DoctorCheck;
  dns: DoctorCheck;
}

export interface DoctorReport {
  paths: DoctorPathReport[];
  /** What is wrong, one sentence each, naming the paths. */
  problems: string[];
  /** Per-carrier tables that fix the egress problems found (gateway null where it could not be found and is needed). */
  fixes: { table: CarrierTable; gatewayMissing: boolean }[];
}

const CHECK_TIMEOUT_MS = 2_000;

/**
 * Checks a policy against this box: each path's address is present, each leaves by its own
 * interface and next hop, its resolvers answer from its address, and its upstream accepts a TCP
 * connection from it. Says what is wrong and which per-carrier tables would fix the egress.
 */
export async function runDoctor(
  policy: Policy,
  deps: DoctorDeps = nodeDoctorDeps(),
): Promise<DoctorReport> {
  const box = await deps.probe.interfaces();
  const routing = await deps.routing();
  const problems: string[] = [];
  const paths = await Promise.all(policy.paths.map((path) => checkPath(path, box, deps)));

  for (const report of paths) {
    const { egress } = report;
    if (egress.state === 'no_address' || egress.state === 'unroutable')
      problems.push(`${report.id}: ${egress.reason}`);
    else if (egress.state === 'unknown')
      problems.push(`${report.id}: egress unknown: ${egress.reason}`);
    else if (
      egress.state === 'known' &&
      report.sourceInterface !== null &&
      egress.interface !== report.sourceInterface
    ) {
      problems.push(
        `${report.id}: its address ${report.source} is on ${report.sourceInterface}, but its packets leave by ${egressKey(egress)} (a source address does not choose the interface; a routing rule does)`,
      );
    }
    if (report.upstream.ok === false)
      problems.push(`${report.id}: upstream not reachable: ${report.upstream.detail}`);
    if (report.dns.ok === false) problems.push(`${report.id}: ${report.dns.detail}`);
  }
  const shared = sharedEgressGroups(paths.map((p) => ({ id: p.id, egress: p.egress })));
  for (const group of shared)
    problems.push(
      `${group.paths.join(', ')} all leave by ${group.egress}: they are one path for redundancy`,
    );

  const needTable = new Set<string>(shared.flatMap((g) => g.paths));
  for (const p of paths)
    if (
      p.egress.state === 'known' &&
      p.sourceInterface !== null &&
      p.egress.interface !== p.sourceInterface
    )
      needTable.add(p.id);
  const fixes: DoctorReport['fixes'] = [];
  for (const report of paths) {
    if (!needTable.has(report.id)) continue;
    if (report.source === null || report.sourceInterface === null) {
      problems.push(
        `${report.id}: has neither bind nor interface, so no routing rule can tell its packets apart: give it its carrier's address (bind) or interface`,
      );
      continue;
    }
    const path = policy.paths.find((p) => p.id === report.id)!;
    if (
      routing.rules.some(
        (r) =>
          r.source === report.source &&
          r.table !== 'main' &&
          r.table !== 'local' &&
          r.table !== 'default',
      )
    ) {
      problems.push(
        `${report.id}: a rule for ${report.source} exists but its table does not lead out of ${report.sourceInterface}: check \`ip route show table all dev ${report.sourceInterface}\``,
      );
      continue;
    }
    const family = addressFamily(report.source);
    const found = routing.defaultRoutes.find(
      (r) => r.interface === report.sourceInterface && r.family === family && r.gateway !== null,
    );
    const gateway = path.gateway ?? found?.gateway ?? null;
    const gatewayMissing = gateway === null && !routing.pointToPoint.has(report.sourceInterface);
    fixes.push({
      table: carrierTable(policy, report.id, {
        source: report.source,
        interface: report.sourceInterface,
        gateway,
      }),
      gatewayMissing,
    });
  }
  return { paths, problems, fixes };
}

async function checkPath(
  path: PathConfig,
  box: BoxInterfaces,
  deps: DoctorDeps,
): Promise<DoctorPathReport> {
  const egress = await checkPathEgress(deps.probe, path, box, undefined);
  const url = new URL(path.upstream);
  const host = upstreamHost(path.upstream);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const source =
    path.bind ??
    (path.interface !== undefined && egress.destination !== null
      ? (interfaceAddress(box.addresses, path.interface, addressFamily(egress.destination)) ?? null)
      : null);
  const sourceInterface =
    path.interface ??
    (source === null
      ? null
      : (box.addresses.find((a) => a.address === source)?.interface ??
        (egress.state === 'local' ? 'lo' : null)));
  const report: DoctorPathReport = {
    id: path.id,
    source,
    sourceInterface,
    egress,
    upstream: { ok: null, detail: 'not checked' },
    dns: {
      ok: null,
      detail: isIpLiteral(host) ? 'not needed: the upstream is an address' : 'not checked',
    },
  };
  if (egress.state === 'no_address') return report;

  if (!isIpLiteral(host)) {
    // The path's own resolvers (`dns:`), else the system's, asked from the path's address.
    const own = path.dns;
    const servers = own && own.length > 0 ? [...own] : deps.systemResolvers();
    const answers = await Promise.all(
      servers.map((server) =>
        deps.resolveFrom(host, server, source ?? undefined, CHECK_TIMEOUT_MS).then(
          (address) => ({ server, ok: true, text: `${server} answered ${address}` }),
          (error: unknown) => ({
            server,
            ok: false,
            text: `${server} did not answer from ${source ?? 'the default address'}: ${(error as Error).message}`,
          }),
        ),
      ),
    );
    const failed = answers.filter((a) => !a.ok);
    report.dns =
      servers.length === 0
        ? { ok: false, detail: `no resolver to ask for ${host}` }
        : failed.length === 0
          ? { ok: true, detail: answers.map((a) => a.text).join('; ') }
          : {
              ok: false,
              detail: `resolver ${failed.map((a) => a.text).join('; ')}${failed.length === answers.length ? `: ${host} cannot be resolved on this path` : ''}`,
            };
  }
  const destination = egress.destination ?? (isIpLiteral(host) ? host : undefined);
  if (destination === undefined) {
    report.upstream = { ok: false, detail: `${host} could not be resolved` };
    return report;
  }
  try {
    const ms = await deps.connectFrom(destination, port, source ?? undefined, CHECK_TIMEOUT_MS);
    report.upstream = { ok: true, detail: `TCP ${destination}:${port} in ${ms.toFixed(1)} ms` };
  } catch (error) {
    report.upstream = {
      ok: false,
      detail: `TCP ${destination}:${port} from ${source ?? 'the default address'}: ${(error as Error).message}`,
    };
  }
  return report;
}
