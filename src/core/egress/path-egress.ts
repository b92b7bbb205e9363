import type { PathConfig } from '../policy/schema.ts';
import {
  addressFamily,
  EgressUnavailableError,
  isIpLiteral,
  isLoopback,
  type BoxInterfaces,
  type EgressProbe,
  type InterfaceAddress,
} from './egress-probe.ts';

/**
 * How one path's packets really leave, as /status shows it:
 * - `known`: by `interface` (via `gateway`); paths with the same interface and next hop are one path for redundancy;
 * - `local`: the upstream is on this box (loopback), no carrier involved;
 * - `no_address`: the path's bind address is not on the box, or its interface has none: it cannot carry anything;
 * - `unroutable`: the kernel has no route from the path's address to its upstream;
 * - `unknown`: not checked (yet), or this runtime cannot tell.
 */
export interface PathEgress {
  state: 'known' | 'local' | 'no_address' | 'unroutable' | 'unknown';
  interface: string | null;
  gateway: string | null;
  /** The source address packets of this path carry. */
  source: string | null;
  /** Routing table that decided, when not the main one. */
  table: string | null;
  /** The upstream address the route was asked for. */
  destination: string | null;
  /** Why, when the state is not `known` or `local`. */
  reason: string | null;
  /** ISO time of the check, or null before the first. */
  checkedAt: string | null;
}

export function uncheckedEgress(reason: string): PathEgress {
  return {
    state: 'unknown',
    interface: null,
    gateway: null,
    source: null,
    table: null,
    destination: null,
    reason,
    checkedAt: null,
  };
}

/** `leaves by s1 via 10.201.1.1 (table 101)`, or why it is not known. */
export function describeEgress(egress: PathEgress): string {
  switch (egress.state) {
    case 'known':
      return `leaves by ${egress.interface}${egress.gateway ? ` via ${egress.gateway}` : ''}${egress.source ? ` from ${egress.source}` : ''}${egress.table ? ` (table ${egress.table})` : ''}`;
    case 'local':
      return 'reaches its upstream on this box (loopback)';
    default:
      return `egress ${egress.state}: ${egress.reason ?? 'unknown'}`;
  }
}

/** A path may only use an address it still has; a path whose egress is not known is not held against it. */
export function egressUsable(egress: PathEgress): boolean {
  return egress.state !== 'no_address' && egress.state !== 'unroutable';
}

/** `s1 via 10.201.1.1` (or `wwan0` on a point-to-point link) for a known egress, else null: what groups paths. */
export function egressKey(egress: PathEgress): string | null {
  if (egress.state !== 'known' || egress.interface === null) return null;
  return egress.gateway === null ? egress.interface : `${egress.interface} via ${egress.gateway}`;
}

/** Equal apart from when it was checked. */
export function sameEgress(a: PathEgress, b: PathEgress): boolean {
  return (
    a.state === b.state &&
    a.interface === b.interface &&
    a.gateway === b.gateway &&
    a.source === b.source &&
    a.table === b.table &&
    a.destination === b.destination &&
    a.reason === b.reason
  );
}

/** The host of a path's upstream URL, an IPv6 literal without its brackets: `[2001:db8::1]` → `2001:db8::1`. */
export function upstreamHost(upstream: string): string {
  return new URL(upstream).hostname.replace(/^\[|\]$/g, '');
}

/** The address of `name` in `family` (a global one before a link-local one), or undefined. */
export function interfaceAddress(
  addresses: readonly InterfaceAddress[],
  name: string,
  family: 4 | 6,
): string | undefined {
  const own = addresses.filter((a) => a.interface === name && a.family === family);
  return (own.find((a) => !a.address.toLowerCase().startsWith('fe80:')) ?? own[0])?.address;
}

/**
 * Asks the kernel how `path` reaches its upstream: from its bind address, or its interface's
 * current address, or (neither set) the kernel's own choice. `upstreamAddress` is where the path's
 * transport last connected, when it has; else an upstream host name is resolved once for this.
 * Never rejects.
 */
export async function checkPathEgress(
  probe: EgressProbe,
  path: PathConfig,
  box: BoxInterfaces,
  upstreamAddress: string | undefined,
  now: () => Date = () => new Date(),
): Promise<PathEgress> {
  const result = (fields: Partial<PathEgress> & Pick<PathEgress, 'state'>): PathEgress => ({
    ...uncheckedEgress(''),
    reason: null,
    ...fields,
    checkedAt: now().toISOString(),
  });
  const addresses = box.addresses;
  if (
    path.bind !== undefined &&
    !addresses.some((a) => a.address === path.bind) &&
    !(await isLocalAddress(probe, path.bind))
  ) {
    return result({
      state: 'no_address',
      source: path.bind,
      reason: `bind address ${path.bind} is not on this box`,
    });
  }
  if (path.interface !== undefined && !addresses.some((a) => a.interface === path.interface)) {
    const reason = box.names.includes(path.interface)
      ? `interface ${path.interface} has no address`
      : `interface ${path.interface} is not on this box`;
    return result({ state: 'no_address', interface: path.interface, reason });
  }
  const host = upstreamHost(path.upstream);
  let destination: string;
  try {
    destination = isIpLiteral(host) ? host : (upstreamAddress ?? (await probe.resolve(host)));
  } catch (error) {
    return result({
      state: 'unknown',
      reason: `cannot resolve ${host} to ask for its route: ${(error as Error).message}`,
    });
  }
  let source = path.bind;
  if (path.interface !== undefined) {
    source = interfaceAddress(addresses, path.interface, addressFamily(destination));
    if (source === undefined) {
      return result({
        state: 'no_address',
        interface: path.interface,
        destination,
        reason: `interface ${path.interface} has no IPv${addressFamily(destination)} address`,
      });
    }
  }
  // An upstream on loopback is this box itself: no carrier, nothing to ask.
  if (isLoopback(destination))
    return result({ state: 'local', interface: 'lo', source: source ?? null, destination });
  try {
    const route = await probe.route(destination, source);
    return result({
      state: route.local ? 'local' : 'known',
      interface: route.interface,
      gateway: route.gateway,
      source: source ?? route.source,
      table: route.table,
      destination,
    });
  } catch (error) {
    if (error instanceof EgressUnavailableError)
      return result({
        state: 'unknown',
        source: source ?? null,
        destination,
        reason: `cannot ask the kernel: ${error.message}`,
      });
    return result({
      state: 'unroutable',
      source: source ?? null,
      destination,
      reason: `no route to ${destination}${source ? ` from ${source}` : ''}: ${(error as Error).message}`,
    });
  }
}

/** An address the box answers for without listing it (all of 127.0.0.0/8 on lo): the kernel routes it locally. */
async function isLocalAddress(probe: EgressProbe, address: string): Promise<boolean> {
  if (isLoopback(address)) return true;
  try {
    return (await probe.route(address, undefined)).local;
  } catch {
    return false;
  }
}

/** Groups of two or more paths that leave the same way (same interface and next hop), in path order. */
export function sharedEgressGroups(
  paths: readonly { id: string; egress: PathEgress }[],
): { egress: string; paths: string[] }[] {
  const byKey = new Map<string, string[]>();
  for (const path of paths) {
    const key = egressKey(path.egress);
    if (key === null) continue;
    byKey.set(key, [...(byKey.get(key) ?? []), path.id]);
  }
  return [...byKey.entries()]
    .filter(([, ids]) => ids.length > 1)
    .map(([egress, ids]) => ({ egress, paths: ids }));
}
