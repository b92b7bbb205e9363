import type { Policy } from '../policy/schema.ts';
import { addressFamily } from './egress-probe.ts';

/**
 * A routing table per path ("carrier table"): packets from the path's source address look up its
 * own table, whose default route leaves by the path's interface and next hop. This is what makes a
 * source address choose the carrier on Linux. `paypath doctor` prints these; `routing.manage`
 * keeps them.
 */
export interface CarrierTable {
  pathId: string;
  /** Routing table number: routing.tableBase + the path's position (1-based). */
  table: number;
  /** `ip rule` priority: routing.rulePriority + the path's position (0-based). */
  priority: number;
  family: 4 | 6;
  source: string;
  interface: string;
  /** The next hop; null on a point-to-point link (`default dev wwan0`). */
  gateway: string | null;
}

export function carrierTableNumbers(
  policy: Policy,
  pathId: string,
): { table: number; priority: number } {
  const index = policy.paths.findIndex((p) => p.id === pathId);
  return {
    table: policy.routing.tableBase + index + 1,
    priority: policy.routing.rulePriority + index,
  };
}

export function carrierTable(
  policy: Policy,
  pathId: string,
  where: { source: string; interface: string; gateway: string | null },
): CarrierTable {
  return {
    pathId,
    ...carrierTableNumbers(policy, pathId),
    family: addressFamily(where.source),
    ...where,
  };
}

/** `ip` arguments (after `ip`) that set the table up: the rule, then the default route. */
export function carrierTableIpArgs(t: CarrierTable): { rule: string[]; route: string[] } {
  const family = t.family === 6 ? ['-6'] : [];
  return {
    rule: [...family, 'rule', 'add', ...ruleSelector(t)],
    route: [
      ...family,
      'route',
      'replace',
      'default',
      ...(t.gateway ? ['via', t.gateway] : []),
      'dev',
      t.interface,
      'table',
      String(t.table),
    ],
  };
}

/** `ip` arguments (after `ip`) that take the table down again: the same rule, and the default route. */
export function carrierTableIpDeleteArgs(t: CarrierTable): { rule: string[]; route: string[] } {
  const family = t.family === 6 ? ['-6'] : [];
  return {
    rule: [...family, 'rule', 'del', ...ruleSelector(t)],
    route: [...family, 'route', 'del', 'default', 'table', String(t.table)],
  };
}

/** What names the table's rule, for adding and deleting it alike. */
function ruleSelector(t: CarrierTable): string[] {
  return ['from', t.source, 'table', String(t.table), 'priority', String(t.priority)];
}

/** The shell commands an operator runs (as root) to set the table up now; lost on reboot. */
export function carrierTableCommands(t: CarrierTable): string[] {
  const { rule, route } = carrierTableIpArgs(t);
  return [`ip ${rule.join(' ')}`, `ip ${route.join(' ')}`];
}

/** The same, kept by systemd-networkd: sections for the interface's .network file. */
export function networkdSections(t: CarrierTable): string {
  return [
    `# in the .network file of ${t.interface} (e.g. /etc/systemd/network/10-${t.interface}.network)`,
    '[Route]',
    ...(t.gateway
      ? [`Gateway=${t.gateway}`]
      : [`Destination=${t.family === 6 ? '::/0' : '0.0.0.0/0'}`]),
    `Table=${t.table}`,
    '',
    '[RoutingPolicyRule]',
    `From=${t.source}`,
    `Table=${t.table}`,
    `Priority=${t.priority}`,
  ].join('\n');
}

/** The same, kept by NetworkManager, for the connection active on the interface. */
export function networkManagerCommand(t: CarrierTable): string {
  const v = t.family === 6 ? 'ipv6' : 'ipv4';
  const any = t.family === 6 ? '::/0' : '0.0.0.0/0';
  const route = t.gateway ? `${any} ${t.gateway} table=${t.table}` : `${any} table=${t.table}`;
  return `nmcli connection modify "$(nmcli -g GENERAL.CONNECTION device show ${t.interface})" +${v}.routes "${route}" +${v}.routing-rules "priority ${t.priority} from ${t.source} table ${t.table}" && nmcli device reapply ${t.interface}`;
}
