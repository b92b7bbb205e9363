/**
 * A store box built from Linux network namespaces, with faults made in the kernel (nftables, links).
 *
 * Topology (N = 1, 2, 3; every name carries the bed's unique prefix, e.g. `ppbed-4242-1-store`):
 *
 *   store ns                     carrier N ns ("cN")                     processor ns ("proc")
 *   sN 10.201.N.2/24  ──veth──  s 10.201.N.1 (the next hop)
 *                                p 10.202.N.1/24  ──────veth──────  cN 10.202.N.2/24
 *                                lo 10.204.N.53 (carrier N's resolver,      lo 10.203.0.10 (PROCESSOR)
 *                                   dnsmasq: processor.bed.test)
 *   carrier 3 is dual-stack: fd00:201:3::2/64 on s3, next hop fd00:201:3::1, resolver
 *   fd00:204:3::53, processor fd00:203::10 (Korean LTE links are often IPv6-first).
 *
 * - The store's main table has ONE default route, via carrier 1 (10.201.1.1 dev s1), and its IPv6
 *   default via carrier 3: a box wired by hand. A source address alone then does not choose the
 *   carrier (`ip route get 10.203.0.10 from 10.201.3.2` answers `dev s1`).
 *   `addPerCarrierRouting()` adds what fixes it: `ip rule from 10.201.N.2 table 10N` and a default
 *   route per table (IPv6 too for carrier 3); `removePerCarrierRouting()` takes it away again.
 * - Carriers forward without NAT, so the processor sees the store's source address (10.201.N.2):
 *   the ledger shows which carrier each charge came through. The processor routes 10.201.N.0/24
 *   back through carrier N; carrier N knows only its own resolver and the processor.
 * - /etc/netns/<store>/resolv.conf names carrier 1's resolver: the "system resolver" of
 *   `ip netns exec <store> …` processes lives on the primary carrier.
 * - Faults (`fault(N, kind)`), made in carrier N's namespace, replace each other; `up(N)` restores:
 *     'blackhole'    every packet through (and to) the carrier dropped both ways; connections freeze
 *     'blackhole-ipv6'  every IPv6 packet through the carrier dropped both ways (the processor
 *                    unreachable over IPv6 only); IPv4 and the carrier's own resolvers pass
 *     'reset'        TCP answered with RST (both directions); other traffic passes
 *     'unreachable'  ICMP host unreachable for every packet through the carrier (and TCP/UDP to it)
 *     { loss: P }    P % of packets through the carrier (and of TCP/UDP to it) dropped at random
 *     'link-down'    the carrier's end of sN set down: sN loses carrier, its routes stay, packets vanish
 *     'dns-down'     the carrier's resolver silent (udp/tcp 53 dropped); everything else passes
 * - Nothing in the test's own namespace gets an address or a route. Processes inside the bed are
 *   children started with `ip netns exec`; the test talks to them over Unix sockets (`portal()`,
 *   the processor's control socket), which can never carry the bed's packets.
 * - `destroy()` kills every process the bed started (by PID, and whatever is left inside its
 *   namespaces), deletes the namespaces and /etc/netns entries; idempotent; call it in afterAll.
 *   Processes started in the bed die with the test process (setpriv --pdeathsig) even without it,
 *   and `create()` first removes beds left by crashed runs (prefix `ppbed-<pid>-`, that pid dead).
 * - Needs root, iproute2, nftables and dnsmasq (scripts/ensure-tools.sh). `bedSupport()` says
 *   whether this machine can build one; in CI (env CI=true) a missing privilege or tool throws
 *   instead of skipping.
 *
 * Typical use (build one bed per test file; it takes well under a second):
 *   const support = bedSupport();
 *   describe.skipIf(!support.ok)('…', () => {
 *     let bed: NetnsBed;
 *     beforeAll(async () => { bed = await NetnsBed.create(); await bed.addPerCarrierRouting();
 *                             await bed.startProcessor(); await bed.startGateway(bed.policyYaml()); });
 *     afterAll(() => bed?.destroy());
 *     it('…', async () => { await bed.fault(1, 'blackhole'); const r = await bed.gatewayFetch('/v1/payments', …);
 *                           const ledger = await bed.ledger(); … await bed.up(1); });
 *   });
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Agent,
  fetch as undiciFetch,
  type RequestInit as UndiciRequestInit,
  type Response as UndiciResponse,
} from 'undici';
import { until } from './poll.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');

export const BED_PREFIX = 'ppbed';
export const PROCESSOR_ADDRESS = '10.203.0.10';
export const PROCESSOR_ADDRESS6 = 'fd00:203::10';
export const PROCESSOR_HOSTNAME = 'processor.bed.test';
export const PROCESSOR_PORT = 8080;
export const GATEWAY_PORT = 8787;

export type CarrierNumber = 1 | 2 | 3;
export type BedFault =
  | 'blackhole'
  | 'blackhole-ipv6'
  | 'reset'
  | 'unreachable'
  | 'link-down'
  | 'dns-down'
  | { loss: number };
export type BedNamespace = 'store' | 'c1' | 'c2' | 'c3' | 'proc';

export interface BedCarrier {
  n: CarrierNumber;
  /** The path id the bed's policies give this carrier. */
  pathId: string;
  /** This carrier's namespace. */
  ns: string;
  /** The store's interface to this carrier (s1, s2, s3). */
  storeInterface: string;
  /** The store's address on that interface: 10.201.N.2. */
  storeAddress: string;
  /** The next hop (the carrier's end of the link): 10.201.N.1. */
  nextHop: string;
  /** This carrier's resolver, reachable only through this carrier: 10.204.N.53. */
  resolver: string;
  /** The per-carrier routing table `addPerCarrierRouting()` fills: 10N. */
  table: number;
  /** IPv6 (carrier 3 only, unless `ipv6Carrier` says otherwise). */
  storeAddress6?: string;
  nextHop6?: string;
  resolver6?: string;
}

export interface BedOptions {
  /** Which carrier is dual-stack (IPv6 too); 0 for none. Default: 3. */
  ipv6Carrier?: 0 | CarrierNumber;
  /** Start a dnsmasq resolver in every carrier. Default: true. */
  dns?: boolean;
  /** TTL (s) of the resolvers' records for PROCESSOR_HOSTNAME. Default: 1. */
  dnsTtlSeconds?: number;
}

export interface Ledger {
  charges: number;
  duplicateCharges: number;
  postsWithoutKey: number;
  /** Charges per source address the processor saw (10.201.N.2 = through carrier N). */
  bySource: Record<string, number>;
  /** Charges per payment reference. */
  byReference: Record<string, number>;
  /** The source address of each charge, per payment reference. */
  sourcesByReference: Record<string, string[]>;
}

const PATH_IDS = ['kt-fiber', 'skt-fiber', 'lgu-lte'] as const;

const HAS_SETPRIV =
  spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).status === 0;

export type BedSupport = { ok: true } | { ok: false; reason: string };

let supportCache: BedSupport | undefined;

/**
 * Whether this machine can build a bed (root, ip, nft, dnsmasq, namespaces allowed). Outside CI a
 * missing piece returns `{ ok: false, reason }` (print it and skip); with CI=true it throws.
 */
export function bedSupport(): BedSupport {
  supportCache ??= probeSupport();
  if (!supportCache.ok && process.env.CI === 'true') {
    throw new Error(`network-namespace test bed unavailable in CI: ${supportCache.reason}`);
  }
  if (!supportCache.ok) console.warn(`skipping network-namespace tests: ${supportCache.reason}`);
  return supportCache;
}

function probeSupport(): BedSupport {
  if (process.platform !== 'linux') return { ok: false, reason: 'needs Linux network namespaces' };
  if (process.getuid?.() !== 0)
    return {
      ok: false,
      reason: 'needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to make network namespaces',
    };
  for (const tool of ['ip', 'nft', 'dnsmasq']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (found.status !== 0)
      return {
        ok: false,
        reason: `${tool} not installed (scripts/ensure-tools.sh installs iproute2, nftables, dnsmasq-base)`,
      };
  }
  const probe = `${BED_PREFIX}-${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0)
    return { ok: false, reason: `cannot make a network namespace: ${add.stderr.trim()}` };
  const nft = spawnSync('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'inet', 'probe'], {
    encoding: 'utf8',
  });
  spawnSync('ip', ['netns', 'del', probe]);
  if (nft.status !== 0)
    return { ok: false, reason: `nftables unusable in a namespace: ${nft.stderr.trim()}` };
  return { ok: true };
}

/** A process the bed started inside one of its namespaces. */
export class BedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  /** Everything it printed so far (stdout and stderr), for assertions and failure messages. */
  output = '';
  readonly exited: Promise<number | null>;
  #exitCode: number | null | undefined;
  #waiters: (() => void)[] = [];

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 1_000_000) this.output = this.output.slice(-500_000);
      for (const wake of this.#waiters.splice(0)) wake();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.#exitCode = code;
        for (const wake of this.#waiters.splice(0)) wake();
        resolve(code);
      });
      child.once('error', (error) => {
        this.output += `\n${String(error)}`;
        this.#exitCode = null;
        resolve(null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Waits until its output matches `pattern`; rejects on exit or after `timeoutMs` (with its output). */
  async waitFor(pattern: RegExp | string, timeoutMs = 15_000): Promise<void> {
    const matches = () =>
      typeof pattern === 'string' ? this.output.includes(pattern) : pattern.test(this.output);
    const deadline = Date.now() + timeoutMs;
    while (!matches()) {
      if (!this.running)
        throw new Error(
          `${this.name} exited (${String(this.#exitCode)}) before printing ${String(pattern)}:\n${this.output}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `${this.name} did not print ${String(pattern)} within ${timeoutMs} ms:\n${this.output}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A Unix socket in the test's namespace forwarding to host:port inside a bed namespace. */
export interface BedPortal {
  socketPath: string;
  /** An undici dispatcher whose every connection goes through the portal. */
  dispatcher: Agent;
  /** fetch() through the portal; `path` is appended to http://host:port. */
  fetch(path: string, init?: UndiciRequestInit): Promise<UndiciResponse>;
}

let bedCounter = 0;

export class NetnsBed {
  /** The prefix every namespace name of this bed starts with, e.g. `ppbed-4242-1`. */
  readonly prefix: string;
  readonly ns: Record<BedNamespace, string>;
  readonly carriers: readonly BedCarrier[];
  readonly processorAddress = PROCESSOR_ADDRESS;
  readonly processorAddress6 = PROCESSOR_ADDRESS6;
  readonly processorHostname = PROCESSOR_HOSTNAME;
  /** A temporary directory for this bed's sockets and files (removed by destroy()). */
  readonly dir: string;
  readonly options: Required<BedOptions>;
  /** The processor's payment URL (IPv4), valid once startProcessor() ran. */
  readonly processorUrl = `http://${PROCESSOR_ADDRESS}:${PROCESSOR_PORT}`;
  readonly processorUrl6 = `http://[${PROCESSOR_ADDRESS6}]:${PROCESSOR_PORT}`;
  /** The gateway's URL inside the store namespace (reach it from the test with gatewayFetch()). */
  readonly gatewayUrl = `http://127.0.0.1:${GATEWAY_PORT}`;
  perCarrierRouting = false;
  readonly #processes = new Set<BedProcess>();
  readonly #portals: BedPortal[] = [];
  readonly #faults = new Map<CarrierNumber, BedFault>();
  #created: string[] = [];
  #destroyed = false;
  #processorControl: Agent | undefined;
  #gatewayPortal: BedPortal | undefined;
  #gateway: BedProcess | undefined;

  private constructor(options: Required<BedOptions>) {
    this.options = options;
    this.prefix = `${BED_PREFIX}-${process.pid}-${++bedCounter}`;
    this.ns = {
      store: `${this.prefix}-store`,
      c1: `${this.prefix}-c1`,
      c2: `${this.prefix}-c2`,
      c3: `${this.prefix}-c3`,
      proc: `${this.prefix}-proc`,
    };
    this.carriers = ([1, 2, 3] as const).map((n) => {
      const carrier: BedCarrier = {
        n,
        pathId: PATH_IDS[n - 1]!,
        ns: this.ns[`c${n}`],
        storeInterface: `s${n}`,
        storeAddress: `10.201.${n}.2`,
        nextHop: `10.201.${n}.1`,
        resolver: `10.204.${n}.53`,
        table: 100 + n,
      };
      if (options.ipv6Carrier === n) {
        carrier.storeAddress6 = `fd00:201:${n}::2`;
        carrier.nextHop6 = `fd00:201:${n}::1`;
        carrier.resolver6 = `fd00:204:${n}::53`;
      }
      return carrier;
    });
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
  }

  /** Builds the bed (namespaces, links, routes, nftables tables, resolvers). Destroys it again if any step fails. */
  static async create(options: BedOptions = {}): Promise<NetnsBed> {
    cleanStaleBeds();
    const bed = new NetnsBed({
      ipv6Carrier: options.ipv6Carrier ?? 3,
      dns: options.dns ?? true,
      dnsTtlSeconds: options.dnsTtlSeconds ?? 1,
    });
    try {
      await bed.#build();
    } catch (error) {
      await bed.destroy();
      throw error;
    }
    return bed;
  }

  carrier(n: CarrierNumber): BedCarrier {
    return this.carriers[n - 1]!;
  }

  async #build(): Promise<void> {
    for (const name of Object.values(this.ns)) {
      await run('ip', ['netns', 'add', name]);
      this.#created.push(name);
      // No duplicate address detection: links made after this get usable IPv6 link-local
      // addresses at once (otherwise the first IPv6 connection waits out DAD, about 2 s).
      await run('ip', [
        'netns',
        'exec',
        name,
        'sysctl',
        '-qw',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.conf.all.accept_dad=0',
      ]);
    }
    const { store, proc } = this.ns;
    const storeCmds = ['link set lo up'];
    const procCmds = [
      'link set lo up',
      `addr add ${PROCESSOR_ADDRESS}/32 dev lo`,
      `addr add ${PROCESSOR_ADDRESS6}/128 dev lo`,
    ];
    for (const c of this.carriers) {
      // Created inside the namespaces directly: no name ever appears in the test's namespace.
      await run('ip', [
        '-n',
        store,
        'link',
        'add',
        c.storeInterface,
        'type',
        'veth',
        'peer',
        'name',
        's',
        'netns',
        c.ns,
      ]);
      await run('ip', [
        '-n',
        c.ns,
        'link',
        'add',
        'p',
        'type',
        'veth',
        'peer',
        'name',
        `c${c.n}`,
        'netns',
        proc,
      ]);
      storeCmds.push(
        `addr add ${c.storeAddress}/24 dev ${c.storeInterface}`,
        `link set ${c.storeInterface} up`,
      );
      procCmds.push(
        `addr add 10.202.${c.n}.2/24 dev c${c.n}`,
        `link set c${c.n} up`,
        `route add 10.201.${c.n}.0/24 via 10.202.${c.n}.1`,
      );
      const carrierCmds = [
        'link set lo up',
        `addr add ${c.nextHop}/24 dev s`,
        `addr add 10.202.${c.n}.1/24 dev p`,
        `addr add ${c.resolver}/32 dev lo`,
        'link set s up',
        'link set p up',
        `route add ${PROCESSOR_ADDRESS}/32 via 10.202.${c.n}.2`,
      ];
      if (c.storeAddress6) {
        storeCmds.push(`addr add ${c.storeAddress6}/64 dev ${c.storeInterface} nodad`);
        carrierCmds.push(
          `addr add ${c.nextHop6}/64 dev s nodad`,
          `addr add fd00:202:${c.n}::1/64 dev p nodad`,
          `addr add ${c.resolver6}/128 dev lo`,
          `route add ${PROCESSOR_ADDRESS6}/128 via fd00:202:${c.n}::2`,
        );
        procCmds.push(
          `addr add fd00:202:${c.n}::2/64 dev c${c.n} nodad`,
          `route add fd00:201:${c.n}::/64 via fd00:202:${c.n}::1`,
        );
      }
      await ipBatch(c.ns, carrierCmds);
      await run('ip', [
        'netns',
        'exec',
        c.ns,
        'sysctl',
        '-qw',
        'net.ipv4.ip_forward=1',
        'net.ipv6.conf.all.forwarding=1',
      ]);
      await nft(c.ns, BASE_TABLE);
    }
    await ipBatch(proc, procCmds);
    await ipBatch(store, storeCmds);
    await run('ip', [
      '-n',
      store,
      'route',
      'add',
      'default',
      'via',
      this.carrier(1).nextHop,
      'dev',
      's1',
    ]);
    const v6 = this.carriers.find((c) => c.nextHop6);
    if (v6)
      await run('ip', [
        '-n',
        store,
        '-6',
        'route',
        'add',
        'default',
        'via',
        v6.nextHop6!,
        'dev',
        v6.storeInterface,
      ]);
    // Replies may come back through another carrier than the one a packet left by (no per-carrier
    // routing): accept them, as a store box's default settings do.
    for (const name of Object.values(this.ns)) {
      await run('ip', [
        'netns',
        'exec',
        name,
        'sysctl',
        '-qw',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      ]);
    }
    const etc = join('/etc/netns', store);
    mkdirSync(etc, { recursive: true });
    writeFileSync(
      join(etc, 'resolv.conf'),
      `# ${this.prefix}: the system resolver is carrier 1's\nnameserver ${this.carrier(1).resolver}\noptions timeout:1 attempts:1\n`,
    );
    if (this.options.dns) for (const c of this.carriers) await this.#startResolver(c);
  }

  async #startResolver(c: BedCarrier): Promise<void> {
    const ttl = this.options.dnsTtlSeconds;
    const args = [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--pid-file=',
      '--log-facility=-',
      '--user=root',
      '--group=root', // no credential change: it keeps the parent-death signal (see spawn())
      '--port=53',
      `--listen-address=${c.resolver}`,
      `--host-record=${PROCESSOR_HOSTNAME},${PROCESSOR_ADDRESS}${c.resolver6 ? `,${PROCESSOR_ADDRESS6}` : ''},${ttl}`,
      // Names only this carrier's resolver knows: tests can tell which resolver answered.
      `--host-record=carrier${c.n}.bed.test,${c.nextHop},${ttl}`,
    ];
    if (c.resolver6) args.push(`--listen-address=${c.resolver6}`);
    const resolver = this.spawn(c.ns, ['dnsmasq', ...args], { name: `dnsmasq c${c.n}` });
    await resolver.waitFor(/started/, 10_000);
  }

  /** Adds `ip rule from 10.201.N.2 table 10N` and a default route per table (IPv6 too). Idempotent. */
  async addPerCarrierRouting(): Promise<void> {
    if (this.perCarrierRouting) return;
    const v4: string[] = [];
    const v6: string[] = [];
    for (const c of this.carriers) {
      v4.push(
        `rule add from ${c.storeAddress} table ${c.table} priority ${1000 + c.n}`,
        `route add default via ${c.nextHop} dev ${c.storeInterface} table ${c.table}`,
      );
      if (c.storeAddress6) {
        v6.push(
          `rule add from ${c.storeAddress6} table ${c.table} priority ${1000 + c.n}`,
          `route add default via ${c.nextHop6} dev ${c.storeInterface} table ${c.table}`,
        );
      }
    }
    await ipBatch(this.ns.store, v4);
    if (v6.length > 0) await ipBatch(this.ns.store, v6, '-6');
    this.perCarrierRouting = true;
  }

  /** Removes what addPerCarrierRouting() added. Idempotent. */
  async removePerCarrierRouting(): Promise<void> {
    if (!this.perCarrierRouting) return;
    const v4: string[] = [];
    const v6: string[] = [];
    for (const c of this.carriers) {
      v4.push(`rule del from ${c.storeAddress} table ${c.table}`, `route flush table ${c.table}`);
      if (c.storeAddress6)
        v6.push(
          `rule del from ${c.storeAddress6} table ${c.table}`,
          `route flush table ${c.table}`,
        );
    }
    await ipBatch(this.ns.store, v4);
    if (v6.length > 0) await ipBatch(this.ns.store, v6, '-6');
    this.perCarrierRouting = false;
  }

  /** What the kernel answers for `ip route get DEST [from SOURCE]` in the store namespace (one line). */
  async routeGet(destination: string, from?: string): Promise<string> {
    const args = [
      '-n',
      this.ns.store,
      'route',
      'get',
      destination,
      ...(from ? ['from', from] : []),
    ];
    return (await run('ip', args)).stdout.trim().split('\n')[0] ?? '';
  }

  /** Makes a fault on carrier n, replacing any earlier fault on it. */
  async fault(n: CarrierNumber, fault: BedFault): Promise<void> {
    await this.up(n);
    const c = this.carrier(n);
    if (fault === 'link-down') {
      await run('ip', ['-n', c.ns, 'link', 'set', 's', 'down']);
    } else {
      await nft(c.ns, faultRules(fault));
    }
    this.#faults.set(n, fault);
  }

  /** Restores carrier n (every carrier when n is omitted): no nftables rules, link up. */
  async up(n?: CarrierNumber): Promise<void> {
    for (const c of n === undefined ? this.carriers : [this.carrier(n)]) {
      const was = this.#faults.get(c.n);
      if (was === undefined) continue;
      if (was === 'link-down') await this.#linkUp(c);
      else await nft(c.ns, FLUSH_FAULTS);
      this.#faults.delete(c.n);
    }
  }

  // Waits until the store's end has its carrier back, and forgets neighbours that failed while it
  // was down: otherwise the first packets after up() meet a stale FAILED entry (EHOSTUNREACH).
  async #linkUp(c: BedCarrier): Promise<void> {
    await run('ip', ['-n', c.ns, 'link', 'set', 's', 'up']);
    await until(
      `${c.storeInterface} to come back up`,
      async () =>
        (await run('ip', ['-n', this.ns.store, 'link', 'show', c.storeInterface])).stdout.includes(
          'LOWER_UP',
        ),
      {
        timeoutMs: 5_000,
        intervalMs: 20,
      },
    );
    await run('ip', ['-n', this.ns.store, 'neigh', 'flush', 'dev', c.storeInterface]);
    await run('ip', ['-n', c.ns, 'neigh', 'flush', 'dev', 's']);
  }

  /** The fault now on carrier n, if any. */
  faultOn(n: CarrierNumber): BedFault | undefined {
    return this.#faults.get(n);
  }

  /** Runs a command inside a bed namespace to completion; rejects on a non-zero exit (with its output). */
  async exec(
    ns: BedNamespace,
    argv: string[],
    options: { input?: string; allowFailure?: boolean } = {},
  ): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.ns[ns] ?? ns, ...argv], options);
  }

  /**
   * Starts a long-running process inside a bed namespace (`ns` is a BedNamespace or a full name).
   * destroy() stops it. Its stdin stays open: scripts of this bed exit when it closes.
   */
  spawn(
    ns: BedNamespace | string,
    argv: string[],
    options: { name?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ): BedProcess {
    if (this.#destroyed) throw new Error('bed destroyed');
    const name = (this.ns as Record<string, string>)[ns] ?? ns;
    // setpriv --pdeathsig: the kernel kills it if the test process dies without destroy() (`ip netns
    // exec` replaces itself with setpriv, which replaces itself with the command: we are its parent).
    const guard = HAS_SETPRIV ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
    const child = spawn('ip', ['netns', 'exec', name, ...guard, ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd ?? REPO,
    });
    const proc = new BedProcess(options.name ?? argv.join(' ').slice(0, 60), child);
    this.#processes.add(proc);
    void proc.exited.then(() => this.#processes.delete(proc));
    return proc;
  }

  /** Runs a TypeScript/JavaScript file with this Node inside a bed namespace. */
  node(
    ns: BedNamespace | string,
    script: string,
    args: string[] = [],
    options: { name?: string; env?: NodeJS.ProcessEnv } = {},
  ): BedProcess {
    return this.spawn(ns, [process.execPath, script, ...args], {
      name: options.name ?? script,
      env: options.env,
    });
  }

  /** A Unix-socket portal from the test to host:port inside namespace `ns` (see netns-portal.ts). */
  async portal(ns: BedNamespace, host: string, port: number): Promise<BedPortal> {
    const socketPath = join(this.dir, `portal-${ns}-${port}-${this.#portals.length}.sock`);
    const forwarder = this.node(
      ns,
      join(HERE, 'netns-portal.ts'),
      [socketPath, host, String(port)],
      { name: `portal ${ns} ${host}:${port}` },
    );
    await forwarder.waitFor('ready');
    const dispatcher = new Agent({
      connect: { socketPath },
      keepAliveTimeout: 10_000,
      connections: 256,
    });
    const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const portal: BedPortal = {
      socketPath,
      dispatcher,
      fetch: (path, init = {}) => undiciFetch(`${base}${path}`, { ...init, dispatcher }),
    };
    this.#portals.push(portal);
    return portal;
  }

  /**
   * Starts the simulated processor in the processor namespace on [::]:8080 (IPv4 and IPv6).
   * `maxRequestsPerSocket` makes it close connections as nginx's keepalive_requests does.
   */
  async startProcessor(options: { maxRequestsPerSocket?: number } = {}): Promise<BedProcess> {
    const control = join(this.dir, 'processor.sock');
    const args = [
      control,
      String(PROCESSOR_PORT),
      '::',
      ...(options.maxRequestsPerSocket ? [String(options.maxRequestsPerSocket)] : []),
    ];
    const proc = this.node('proc', join(HERE, 'netns-processor.ts'), args, { name: 'processor' });
    await proc.waitFor('ready');
    this.#processorControl = new Agent({ connect: { socketPath: control } });
    return proc;
  }

  async #processorCall(method: string, path: string): Promise<unknown> {
    if (!this.#processorControl) throw new Error('processor not started (startProcessor())');
    const response = await undiciFetch(`http://processor${path}`, {
      method,
      dispatcher: this.#processorControl,
      signal: AbortSignal.timeout(10_000),
    });
    return response.json();
  }

  /** The processor's ledger (asked over its control socket, never over the bed's links). */
  async ledger(): Promise<Ledger> {
    return (await this.#processorCall('GET', '/ledger')) as Ledger;
  }

  async resetLedger(): Promise<void> {
    await this.#processorCall('POST', '/reset');
  }

  async setProcessorServiceTime(ms: number): Promise<void> {
    await this.#processorCall('POST', `/service-time?ms=${ms}`);
  }

  /** The bed's three paths for a policy: upstream the processor (by address), `bind` each carrier's store address. */
  paths(
    options: { upstream?: 'address' | 'hostname' | 'address6' } = {},
  ): { id: string; upstream: string; bind: string }[] {
    return this.carriers.map((c) => {
      const v6 = options.upstream === 'address6' && c.storeAddress6;
      const host = v6
        ? `[${PROCESSOR_ADDRESS6}]`
        : options.upstream === 'hostname'
          ? PROCESSOR_HOSTNAME
          : PROCESSOR_ADDRESS;
      return {
        id: c.pathId,
        upstream: `http://${host}:${PROCESSOR_PORT}`,
        bind: v6 ? c.storeAddress6! : c.storeAddress,
      };
    });
  }

  /**
   * A policy (YAML, as `paypath serve` reads it) for the bed: its three paths, a payments route over
   * them in order with keys honoured; everything else at its default (probes on). `extra` is merged into the document's top level
   * (e.g. { breaker: … }); `route` into the payments route.
   */
  policyYaml(
    options: {
      route?: Record<string, unknown>;
      extra?: Record<string, unknown>;
      upstream?: 'address' | 'hostname' | 'address6';
    } = {},
  ): string {
    const paths = this.paths({ upstream: options.upstream });
    const document = {
      version: 1,
      paths: paths.map((p) => ({ ...p, grade: 'hot' })),
      routes: [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: paths.map((p) => p.id),
          deadlineMs: 8_000,
          idempotency: { header: 'Idempotency-Key', upstreamHonors: true },
          ...options.route,
        },
      ],
      ...options.extra,
    };
    // JSON is YAML: no YAML library needed here.
    return JSON.stringify(document, null, 2);
  }

  /**
   * Starts `paypath serve` in the store namespace on 127.0.0.1:8787 with this policy (YAML/JSON
   * text) and waits until /healthz answers. Reach it with gatewayFetch().
   */
  async startGateway(
    policy: string,
    options: { env?: NodeJS.ProcessEnv; args?: string[] } = {},
  ): Promise<BedProcess> {
    const file = join(this.dir, 'policy.yaml');
    writeFileSync(file, policy);
    const gateway = this.node(
      'store',
      join(REPO, 'bin', 'paypath.js'),
      [
        'serve',
        '--policy',
        file,
        '--port',
        String(GATEWAY_PORT),
        '--host',
        '127.0.0.1',
        '--no-warm-up',
        ...(options.args ?? []),
      ],
      {
        name: 'paypath serve',
        env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...options.env },
      },
    );
    this.#gateway = gateway;
    await this.#waitHealthy();
    return gateway;
  }

  async #waitHealthy(): Promise<void> {
    this.#gatewayPortal ??= await this.portal('store', '127.0.0.1', GATEWAY_PORT);
    const portal = this.#gatewayPortal;
    await until(
      'paypath serve to answer /healthz',
      async () => {
        try {
          const response = await portal.fetch('/healthz', { signal: AbortSignal.timeout(2_000) });
          await response.body?.cancel();
          if (response.ok) return true;
        } catch {
          // not listening yet
        }
        if (this.#gateway && !this.#gateway.running)
          throw new Error(`paypath serve exited:\n${this.#gateway.output}`);
        return false;
      },
      { timeoutMs: 20_000, intervalMs: 100, state: () => this.#gateway?.output ?? '' },
    );
  }

  /** Stops the gateway startGateway() started (to start another with a different policy). */
  async stopGateway(): Promise<void> {
    await this.#gateway?.stop();
    this.#gateway = undefined;
  }

  /** fetch() to the gateway in the store namespace (path like '/v1/payments'), through a portal. */
  async gatewayFetch(path: string, init: UndiciRequestInit = {}): Promise<UndiciResponse> {
    this.#gatewayPortal ??= await this.portal('store', '127.0.0.1', GATEWAY_PORT);
    return this.#gatewayPortal.fetch(path, init);
  }

  /** POSTs one payment through the gateway (key `key-REFERENCE`): its status and the path that carried it. */
  async pay(reference: string): Promise<{ status: number; path: string | null; body?: string }> {
    const response = await this.gatewayFetch('/v1/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `key-${reference}` },
      body: JSON.stringify({ amount: 4500, currency: 'KRW', reference }),
      signal: AbortSignal.timeout(20_000),
    });
    const body = await response.text();
    // A failure carries its answer, so an assertion on the statuses names what went wrong.
    return {
      status: response.status,
      path: response.headers.get('x-paypath-path'),
      ...(response.status === 201 ? {} : { body }),
    };
  }

  /** The gateway's GET /status; `T` names the fields the caller reads. */
  async gatewayStatus<T>(): Promise<T> {
    return (await (
      await this.gatewayFetch('/status', { signal: AbortSignal.timeout(5_000) })
    ).json()) as T;
  }

  /**
   * Polls the gateway's /status every 100 ms until `done` holds and returns that status; after
   * `timeoutMs` fails naming `what` and the last status (or the part of it `show` picks).
   */
  async waitForGatewayStatus<T>(
    what: string,
    done: (status: T) => boolean,
    options: { timeoutMs?: number; show?: (status: T) => unknown } = {},
  ): Promise<T> {
    let current: T | undefined;
    return until(
      what,
      async () => {
        current = await this.gatewayStatus<T>();
        return done(current) && current;
      },
      {
        timeoutMs: options.timeoutMs ?? 15_000,
        intervalMs: 100,
        state: () => (options.show && current !== undefined ? options.show(current) : current),
      },
    );
  }

  /** Stops every process, deletes every namespace and file the bed made. Idempotent; never throws. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all([
      ...this.#portals.map((p) => p.dispatcher.close().catch(() => undefined)),
      this.#processorControl?.close().catch(() => undefined),
    ]);
    await Promise.all([...this.#processes].map((p) => p.stop(1_000).catch(() => undefined)));
    for (const name of this.#created) killNamespaceProcesses(name);
    for (const name of this.#created) spawnSync('ip', ['netns', 'del', name]);
    rmSync(join('/etc/netns', this.ns.store), { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
    this.#created = [];
  }
}

// The fault chains of a carrier: `forward` (packets through the carrier) and `input`/`output`
// (packets to and from the carrier itself: its resolver, its end of the link).
const BASE_TABLE = `
table inet ppbed {
  chain forward { type filter hook forward priority 0; policy accept; }
  chain input { type filter hook input priority 0; policy accept; }
  chain output { type filter hook output priority 0; policy accept; }
}
`;

const FLUSH_FAULTS =
  'flush chain inet ppbed forward\nflush chain inet ppbed input\nflush chain inet ppbed output\n';

function faultRules(fault: Exclude<BedFault, 'link-down'>): string {
  const add = (chain: string, rule: string) => `add rule inet ppbed ${chain} ${rule}\n`;
  // Only TCP and UDP to the carrier itself, so IPv6 neighbour discovery keeps the link alive where
  // the fault is meant to say something (reset, unreachable) rather than vanish.
  const transport = 'meta l4proto { tcp, udp }';
  let rules = FLUSH_FAULTS;
  if (fault === 'blackhole') {
    rules += add('forward', 'drop') + add('input', 'drop') + add('output', 'drop');
  } else if (fault === 'blackhole-ipv6') {
    rules += add('forward', 'meta nfproto ipv6 drop');
  } else if (fault === 'reset') {
    rules +=
      add('forward', 'meta l4proto tcp reject with tcp reset') +
      add('input', 'meta l4proto tcp reject with tcp reset');
  } else if (fault === 'unreachable') {
    rules +=
      add('forward', 'reject with icmpx type host-unreachable') +
      add('input', `${transport} reject with icmpx type host-unreachable`);
  } else if (fault === 'dns-down') {
    rules += add('input', 'udp dport 53 drop') + add('input', 'tcp dport 53 drop');
  } else {
    const percent = Math.max(0, Math.min(100, Math.round(fault.loss)));
    // nft compares `numgen random mod 100` with 0..99 only: 100 % is a plain drop, 0 % no rule.
    const share = percent >= 100 ? '' : `numgen random mod 100 < ${percent} `;
    if (percent > 0)
      rules += add('forward', `${share}drop`) + add('input', `${transport} ${share}drop`);
  }
  return rules;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

function run(
  command: string,
  args: string[],
  options: { input?: string; allowFailure?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && !options.allowFailure)
        reject(
          new Error(`${command} ${args.join(' ')} failed (${String(code)}): ${stderr.trim()}`),
        );
      else resolve({ stdout, stderr, code });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}

function ipBatch(ns: string, commands: string[], family?: '-6'): Promise<RunResult> {
  return run('ip', [...(family ? [family] : []), '-n', ns, '-batch', '-'], {
    input: `${commands.join('\n')}\n`,
  });
}

function nft(ns: string, script: string): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script });
}

function killNamespaceProcesses(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes beds left behind by runs that died before destroy(): namespaces named
 * `ppbed-<pid>-…` whose pid is no longer alive (their processes are killed first). Best effort.
 */
export function cleanStaleBeds(): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const removed: string[] = [];
  if (listed.status !== 0) return removed;
  const pattern = new RegExp(`^${BED_PREFIX}-(\\d+)-`);
  for (const line of listed.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const owner = pattern.exec(name);
    if (!owner || alive(Number(owner[1]))) continue;
    killNamespaceProcesses(name);
    spawnSync('ip', ['netns', 'del', name]);
    rmSync(join('/etc/netns', name), { recursive: true, force: true });
    removed.push(name);
  }
  try {
    for (const entry of readdirSync('/etc/netns')) {
      const owner = pattern.exec(entry);
      if (owner && !alive(Number(owner[1])))
        rmSync(join('/etc/netns', entry), { recursive: true, force: true });
    }
  } catch {
    // no /etc/netns
  }
  return removed;
}
