import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import {
  EgressUnavailableError,
  type BoxInterfaces,
  type EgressProbe,
  type InterfaceAddress,
  type RouteAnswer,
} from '../../core/egress/egress-probe.ts';
import { readInterfaces } from './interface-addresses.ts';
import type { NetworkWatch } from './network-watch.ts';

/**
 * Runs `ip` (no shell) and returns its stdout; rejects with its stderr's first line (what the
 * kernel answered), or with EgressUnavailableError when `ip` could not run or answer at all.
 */
export function runIp(ip: string, args: readonly string[], timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      ip,
      args,
      { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve(String(stdout));
        const text = String(stderr)
          .trim()
          .split('\n')[0]
          ?.replace(/^RTNETLINK answers: /, '');
        const failedToRun =
          typeof (error as { code?: unknown }).code === 'string' ||
          (error as { killed?: boolean }).killed === true;
        if (failedToRun || !text)
          reject(
            new EgressUnavailableError(
              `${ip} ${args.slice(0, 3).join(' ')}: ${error.message.split('\n')[0]}`,
              { cause: error },
            ),
          );
        else reject(new Error(text, { cause: error }));
      },
    );
  });
}

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local?: string }[];
}

interface IpRouteJson {
  type?: string;
  dev?: string;
  gateway?: string;
  prefsrc?: string;
  from?: string;
  table?: string;
}

export function parseAddresses(json: string): BoxInterfaces {
  const links = JSON.parse(json) as IpAddrJson[];
  const addresses: InterfaceAddress[] = [];
  for (const link of links) {
    for (const info of link.addr_info ?? []) {
      if (info.local === undefined || (info.family !== 'inet' && info.family !== 'inet6')) continue;
      addresses.push({
        interface: link.ifname,
        address: info.local,
        family: info.family === 'inet' ? 4 : 6,
      });
    }
  }
  return { names: links.map((l) => l.ifname), addresses };
}

/** The point-to-point links (no next hop: `default dev wwan0`) in `ip -j link show` output. */
export function parsePointToPoint(json: string): Set<string> {
  return new Set(
    (JSON.parse(json) as { ifname: string; flags?: string[]; link_type?: string }[])
      .filter((l) => l.flags?.includes('POINTOPOINT') || l.link_type === 'none')
      .map((l) => l.ifname),
  );
}

export function parseRouteGet(json: string): RouteAnswer {
  const [route] = JSON.parse(json) as IpRouteJson[];
  if (!route || route.dev === undefined) throw new Error('no route in the answer');
  return {
    interface: route.dev,
    gateway: route.gateway ?? null,
    source: route.prefsrc ?? route.from ?? null,
    table:
      route.table !== undefined && route.table !== 'main' && route.table !== 'local'
        ? route.table
        : null,
    local: route.type === 'local',
  };
}

/**
 * The Node runtime's view of the kernel's routing: `ip -j route get DEST from SRC` (iproute2, run
 * without a shell) and `ip monitor` for changes; addresses from the OS directly. Works unprivileged.
 */
export function createKernelEgressProbe(
  options: { ip?: string; watch?: NetworkWatch } = {},
): EgressProbe {
  const ip = options.ip ?? 'ip';
  const watch = options.watch;
  return {
    interfaces: () => Promise.resolve(readInterfaces()),
    route: async (destination, source) =>
      parseRouteGet(
        await runIp(ip, [
          '-j',
          'route',
          'get',
          destination,
          ...(source !== undefined ? ['from', source] : []),
        ]),
      ),
    resolve: async (host) => (await lookup(host)).address,
    ...(watch ? { watch: (onChange: () => void) => watch.subscribe(onChange) } : {}),
  };
}
