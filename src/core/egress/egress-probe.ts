/**
 * What the kernel says about how packets leave this box. The Node runtime asks `ip` (see
 * src/adapters/node/kernel-egress-probe.ts); runtimes without a view of the host's routes
 * (Workers) have none, and paths' egress is then reported as unknown.
 */

/** The route the kernel chose for one destination and source address. */
export interface RouteAnswer {
  /** Outgoing interface, e.g. `s1`. */
  interface: string;
  /** Next hop, or null when the destination is on-link or the link is point-to-point. */
  gateway: string | null;
  /** The source address the packets carry (the one asked for, or the kernel's choice). */
  source: string | null;
  /** Routing table the answer came from when not the main one (`103`), else null. */
  table: string | null;
  /** The destination is this box itself (loopback): no carrier is involved. */
  local: boolean;
}

export interface InterfaceAddress {
  interface: string;
  address: string;
  family: 4 | 6;
}

/** The box's interfaces (with or without an address) and their addresses. */
export interface BoxInterfaces {
  names: string[];
  addresses: InterfaceAddress[];
}

export interface EgressProbe {
  interfaces(): Promise<BoxInterfaces>;
  /** How a packet to `destination` from `source` (or from the kernel's choice) leaves; rejects when no route does. */
  route(destination: string, source: string | undefined): Promise<RouteAnswer>;
  /** An address of `host`, for the route lookup only (the transport resolves for itself). */
  resolve(host: string): Promise<string>;
  /** Calls `onChange` when addresses, routes or routing rules change, where the runtime can tell. */
  watch?(onChange: () => void): { close(): void };
}

/**
 * The probe could not ask the kernel at all (no `ip` command, a timeout): the egress is unknown,
 * not unroutable, so a box without the tool never counts its paths as unusable.
 */
export class EgressUnavailableError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'EgressUnavailableError';
  }
}

/** True for an IPv4 or IPv6 literal (IPv6 without brackets). */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

/** 127.0.0.0/8 and ::1: always this box, whatever the routes (no need to ask the kernel). */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1';
}

export function addressFamily(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}
