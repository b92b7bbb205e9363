import {
  carrierTable,
  carrierTableIpArgs,
  carrierTableIpDeleteArgs,
  type CarrierTable,
} from '../../core/egress/carrier-tables.ts';
import { addressFamily, isIpLiteral } from '../../core/egress/egress-probe.ts';
import { interfaceAddress, upstreamHost } from '../../core/egress/path-egress.ts';
import type { Logger } from '../../core/logger.ts';
import type { Policy } from '../../core/policy/schema.ts';
import { parseAddresses, parsePointToPoint, runIp } from './kernel-egress-probe.ts';

interface RuleJson {
  priority?: number;
  src?: string;
  table?: string;
}

interface RouteJson {
  dst?: string;
  dev?: string;
  gateway?: string;
  table?: string;
}

/**
 * `routing.manage`: keeps a routing table per path, as mwan3 does on routers. For each path with a
 * source address (bind, or its interface's current address) it makes sure of
 * `ip rule from ADDRESS table N priority P` and a default route via the path's next hop (policy
 * `gateway`, else the interface's default route in any table, else none on a point-to-point link)
 * in table N. It follows interface addresses (the rule moves with them), takes away tables of paths
 * that left the policy, and on `close()` removes everything it added. Needs CAP_NET_ADMIN; without
 * it, says so once per failing command and changes nothing.
 */
export class CarrierRouting {
  readonly #ip: string;
  readonly #logger: Logger;
  /** Rules and routes this process added, by path id. */
  readonly #added = new Map<string, { table: CarrierTable; rule: boolean; route: boolean }>();
  readonly #reported = new Set<string>();
  #running: Promise<void> | undefined;
  #again: Policy | undefined;
  #closed = false;

  constructor(options: { ip?: string; logger: Logger }) {
    this.#ip = options.ip ?? 'ip';
    this.#logger = options.logger;
  }

  /** Brings the tables in line with `policy` (none when routing.manage is off). Runs one at a time; never rejects. */
  sync(policy: Policy): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running) {
      this.#again = policy;
      return this.#running;
    }
    this.#running = this.#sync(policy)
      .catch((error: unknown) =>
        this.#report(
          'sync',
          `routing.manage could not read the box's routing: ${(error as Error).message}`,
        ),
      )
      .finally(() => {
        this.#running = undefined;
        const next = this.#again;
        this.#again = undefined;
        if (next && !this.#closed) void this.sync(next);
      });
    return this.#running;
  }

  /** Removes every rule and route this process added. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#again = undefined;
    await this.#running;
    for (const pathId of [...this.#added.keys()]) await this.#remove(pathId);
  }

  /** What is in place now (for /status and tests). */
  get tables(): CarrierTable[] {
    return [...this.#added.values()].map((a) => a.table);
  }

  async #sync(policy: Policy): Promise<void> {
    const wanted = policy.routing.manage
      ? await this.#wanted(policy)
      : new Map<string, CarrierTable>();
    for (const pathId of [...this.#added.keys()]) {
      const had = this.#added.get(pathId)!.table;
      const want = wanted.get(pathId);
      if (
        !want ||
        want.source !== had.source ||
        want.table !== had.table ||
        want.priority !== had.priority ||
        want.interface !== had.interface ||
        want.gateway !== had.gateway
      ) {
        await this.#remove(pathId);
      }
    }
    if (wanted.size === 0) return;
    const [rules4, rules6] = await Promise.all([
      runIp(this.#ip, ['-j', 'rule', 'show']),
      runIp(this.#ip, ['-6', '-j', 'rule', 'show']).catch(() => '[]'),
    ]);
    const rules = [...(JSON.parse(rules4) as RuleJson[]), ...(JSON.parse(rules6) as RuleJson[])];
    for (const t of wanted.values()) {
      const args = carrierTableIpArgs(t);
      const entry = this.#added.get(t.pathId) ?? { table: t, rule: false, route: false };
      const hasRule = rules.some(
        (r) => r.src === t.source && r.table === String(t.table) && r.priority === t.priority,
      );
      if (!hasRule && (await this.#run(args.rule, t.pathId))) entry.rule = true;
      const routes = JSON.parse(
        await runIp(this.#ip, [
          ...(t.family === 6 ? ['-6'] : []),
          '-j',
          'route',
          'show',
          'table',
          String(t.table),
        ]).catch(() => '[]'),
      ) as RouteJson[];
      const current = routes.find((r) => r.dst === 'default');
      const same =
        current !== undefined &&
        current.dev === t.interface &&
        (current.gateway ?? null) === t.gateway;
      if (!same && (await this.#run(args.route, t.pathId))) entry.route = true;
      if (entry.rule || entry.route) this.#added.set(t.pathId, entry);
    }
  }

  /** The table each path should have, from the box's addresses and routes now. */
  async #wanted(policy: Policy): Promise<Map<string, CarrierTable>> {
    const [addrs, links, routes4, routes6] = await Promise.all([
      runIp(this.#ip, ['-j', 'addr', 'show']),
      runIp(this.#ip, ['-j', 'link', 'show']),
      runIp(this.#ip, ['-j', 'route', 'show', 'table', 'all']),
      runIp(this.#ip, ['-6', '-j', 'route', 'show', 'table', 'all']).catch(() => '[]'),
    ]);
    const box = parseAddresses(addrs);
    const pointToPoint = parsePointToPoint(links);
    const defaults = [
      ...(JSON.parse(routes4) as RouteJson[]).map((r) => ({ ...r, family: 4 })),
      ...(JSON.parse(routes6) as RouteJson[]).map((r) => ({ ...r, family: 6 })),
    ].filter((r) => r.dst === 'default' && r.gateway !== undefined);
    const wanted = new Map<string, CarrierTable>();
    for (const path of policy.paths) {
      const host = upstreamHost(path.upstream);
      const family = isIpLiteral(host) ? addressFamily(host) : 4;
      const source =
        path.bind ??
        (path.interface !== undefined
          ? interfaceAddress(box.addresses, path.interface, family)
          : undefined);
      if (source === undefined) continue; // no address (yet): nothing to route; attempts are not sent
      const iface = path.interface ?? box.addresses.find((a) => a.address === source)?.interface;
      if (iface === undefined || iface === 'lo') continue;
      const numbers = carrierTable(policy, path.id, { source, interface: iface, gateway: null });
      // Our own table's default route counts as found only if it was there before us.
      const found = defaults.find(
        (r) =>
          r.dev === iface &&
          r.family === addressFamily(source) &&
          (r.table ?? 'main') !== String(numbers.table),
      );
      const gateway =
        path.gateway ?? found?.gateway ?? this.#added.get(path.id)?.table.gateway ?? null;
      if (gateway === null && !pointToPoint.has(iface)) {
        this.#report(
          `gateway ${path.id}`,
          `routing.manage: path ${path.id} has no next hop (set gateway: on the path); its table is not kept`,
        );
        continue;
      }
      wanted.set(path.id, { ...numbers, gateway });
    }
    return wanted;
  }

  async #remove(pathId: string): Promise<void> {
    const entry = this.#added.get(pathId);
    if (!entry) return;
    this.#added.delete(pathId);
    const teardown = carrierTableIpDeleteArgs(entry.table);
    // Either may be gone already (the kernel drops routes with the address they used): nothing to say then.
    const quietly = (args: string[]) =>
      runIp(this.#ip, args).then(
        () =>
          this.#logger.info(
            { event: 'carrier_routing', path: pathId, command: `ip ${args.join(' ')}` },
            `routing.manage: ip ${args.join(' ')}`,
          ),
        () => {},
      );
    if (entry.rule) await quietly(teardown.rule);
    if (entry.route) await quietly(teardown.route);
  }

  async #run(args: string[], pathId: string): Promise<boolean> {
    try {
      await runIp(this.#ip, args);
      this.#logger.info(
        { event: 'carrier_routing', path: pathId, command: `ip ${args.join(' ')}` },
        `routing.manage: ip ${args.join(' ')}`,
      );
      return true;
    } catch (error) {
      const message = (error as Error).message;
      const hint = /not permitted/i.test(message) ? ' (needs CAP_NET_ADMIN)' : '';
      this.#report(
        `${args.join(' ')}`,
        `routing.manage: ip ${args.join(' ')} failed for path ${pathId}: ${message}${hint}`,
      );
      return false;
    }
  }

  /** Each distinct problem is logged once, not on every sync. */
  #report(key: string, message: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#logger.error({ event: 'carrier_routing_failed' }, message);
  }
}
