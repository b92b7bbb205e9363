import { readFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { addressFamily, type EgressProbe } from '../../core/egress/egress-probe.ts';
import { createKernelEgressProbe, parsePointToPoint, runIp } from './kernel-egress-probe.ts';
import { resolverFamily } from './dns-query.ts';

/** What `paypath doctor` reads from the box and asks of the network, and its Node readout. */

/** What the box's routing holds beyond addresses: default routes per interface, point-to-point links, rules. */
export interface BoxRouting {
  defaultRoutes: { interface: string; gateway: string | null; table: string; family: 4 | 6 }[];
  pointToPoint: Set<string>;
  rules: { source: string; table: string; priority: number }[];
}

export interface DoctorDeps {
  probe: EgressProbe;
  routing: () => Promise<BoxRouting>;
  /** TCP connect from `source` to `host:port`; resolves with the time taken or rejects. */
  connectFrom: (
    host: string,
    port: number,
    source: string | undefined,
    timeoutMs: number,
  ) => Promise<number>;
  /** Asks `server` for `host` from `source`; resolves with an address or rejects. */
  resolveFrom: (
    host: string,
    server: string,
    source: string | undefined,
    timeoutMs: number,
  ) => Promise<string>;
  /** The system's resolvers (/etc/resolv.conf), used for paths without their own. */
  systemResolvers: () => string[];
}

interface IpRouteJson {
  dst?: string;
  dev?: string;
  gateway?: string;
  table?: string;
}

/** The Node runtime's readout of the box (iproute2, no shell). */
export function nodeDoctorDeps(ip = 'ip'): DoctorDeps {
  return {
    probe: createKernelEgressProbe({ ip }),
    routing: async () => {
      const [v4, v6, links, rules4, rules6] = await Promise.all([
        runIp(ip, ['-j', 'route', 'show', 'table', 'all']),
        runIp(ip, ['-6', '-j', 'route', 'show', 'table', 'all']).catch(() => '[]'),
        runIp(ip, ['-j', 'link', 'show']),
        runIp(ip, ['-j', 'rule', 'show']),
        runIp(ip, ['-6', '-j', 'rule', 'show']).catch(() => '[]'),
      ]);
      const defaults = (json: string, family: 4 | 6) =>
        (JSON.parse(json) as IpRouteJson[])
          .filter((r) => r.dst === 'default' && r.dev !== undefined)
          .map((r) => ({
            interface: r.dev!,
            gateway: r.gateway ?? null,
            table: r.table ?? 'main',
            family,
          }));
      const pointToPoint = parsePointToPoint(links);
      const rules = [
        ...(JSON.parse(rules4) as { src?: string; table?: string; priority?: number }[]),
        ...(JSON.parse(rules6) as { src?: string; table?: string; priority?: number }[]),
      ]
        .filter((r) => r.src !== undefined && r.src !== 'all')
        .map((r) => ({ source: r.src!, table: r.table ?? '', priority: r.priority ?? 0 }));
      return { defaultRoutes: [...defaults(v4, 4), ...defaults(v6, 6)], pointToPoint, rules };
    },
    connectFrom: (host, port, source, timeoutMs) =>
      new Promise((resolve, reject) => {
        const started = performance.now();
        const socket = connect({ host, port, ...(source ? { localAddress: source } : {}) });
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new Error(`no connection within ${timeoutMs} ms`));
        }, timeoutMs);
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.destroy();
          resolve(performance.now() - started);
        });
        socket.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      }),
    resolveFrom: async (host, server, source, timeoutMs) => {
      const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
      // `192.0.2.53:5353` is an IPv4 resolver: its colon does not make it IPv6.
      const family = resolverFamily(server);
      // One address binds the queries of its own family (an IPv6 one alone is taken as IPv6).
      if (source !== undefined && addressFamily(source) === family)
        resolver.setLocalAddress(source);
      resolver.setServers([server]);
      const [address] = await resolver.resolve4(host).catch(() => resolver.resolve6(host));
      return address!;
    },
    systemResolvers: () => {
      try {
        return readFileSync('/etc/resolv.conf', 'utf8')
          .split('\n')
          .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
          .filter((server): server is string => server !== undefined);
      } catch {
        return [];
      }
    },
  };
}
