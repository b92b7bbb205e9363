// The namespace test bed itself (test/support/netns-bed.ts): each fault does to carrier 1 what its
// name says and leaves carrier 2 alone, up() undoes it, the resolvers answer only through their own
// carrier, and destroy() leaves no namespace or process behind.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bedSupport,
  cleanStaleBeds,
  NetnsBed,
  PROCESSOR_HOSTNAME,
  PROCESSOR_PORT,
  type BedFault,
} from './support/netns-bed.ts';
import { until } from './support/poll.ts';

const support = bedSupport();

// A TCP connect from a store address to the processor, and a DNS question to a resolver from a
// store address, run inside the store namespace; each prints what happened ("connected" or an
// error code such as ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH; an address list or ETIMEOUT).
const CONNECT = `
const net = require('node:net');
const [host, port, localAddress] = process.argv.slice(1);
const socket = net.connect({ host, port: Number(port), localAddress });
const timer = setTimeout(() => { console.log('ETIMEDOUT'); process.exit(0); }, 800);
socket.on('connect', () => { console.log('connected'); process.exit(0); });
socket.on('error', (e) => { clearTimeout(timer); console.log(e.code); process.exit(0); });
`;
const RESOLVE = `
const { Resolver } = require('node:dns').promises;
const [server, localAddress, name] = process.argv.slice(1);
const resolver = new Resolver({ timeout: 400, tries: 1 });
resolver.setServers([server]);
resolver.setLocalAddress(localAddress);
resolver.resolve4(name).then((a) => console.log(a.join(',')), (e) => console.log(e.code));
`;

describe.skipIf(!support.ok)('network-namespace test bed', () => {
  let bed: NetnsBed;

  beforeAll(async () => {
    bed = await NetnsBed.create();
    await bed.addPerCarrierRouting();
    await bed.startProcessor();
  }, 60_000);

  afterAll(async () => {
    await bed?.destroy();
  });

  async function connect(carrier: 1 | 2 | 3): Promise<string> {
    const from = bed.carrier(carrier).storeAddress;
    const result = await bed.exec('store', [
      process.execPath,
      '-e',
      CONNECT,
      bed.processorAddress,
      String(PROCESSOR_PORT),
      from,
    ]);
    return result.stdout.trim();
  }

  async function resolve(
    resolverOf: 1 | 2 | 3,
    from: 1 | 2 | 3,
    name = PROCESSOR_HOSTNAME,
  ): Promise<string> {
    const result = await bed.exec('store', [
      process.execPath,
      '-e',
      RESOLVE,
      bed.carrier(resolverOf).resolver,
      bed.carrier(from).storeAddress,
      name,
    ]);
    return result.stdout.trim();
  }

  it('reaches the processor through every carrier, over IPv6 through carrier 3, and resolves through each carrier', async () => {
    expect([await connect(1), await connect(2), await connect(3)]).toEqual([
      'connected',
      'connected',
      'connected',
    ]);
    const v6 = await bed.exec('store', [
      process.execPath,
      '-e',
      CONNECT,
      bed.processorAddress6,
      String(PROCESSOR_PORT),
      bed.carrier(3).storeAddress6!,
    ]);
    expect(v6.stdout.trim()).toBe('connected');
    for (const n of [1, 2, 3] as const) expect(await resolve(n, n)).toBe(bed.processorAddress);
    // Each resolver knows a name of its own, and is reachable only through its carrier.
    expect(await resolve(2, 2, 'carrier2.bed.test')).toBe(bed.carrier(2).nextHop);
    expect(await resolve(2, 1)).not.toBe(bed.processorAddress);
  });

  const expected: [BedFault, RegExp][] = [
    ['blackhole', /^ETIMEDOUT$/],
    ['reset', /^ECONNREFUSED$/],
    ['unreachable', /^EHOSTUNREACH$/],
    ['link-down', /^ETIMEDOUT$/],
  ];
  for (const [fault, outcome] of expected) {
    it(`${String(fault)} on carrier 1 stops carrier 1 (${String(outcome)}) and no other; up() restores it`, async () => {
      await bed.fault(1, fault);
      try {
        expect(bed.faultOn(1)).toBe(fault);
        expect(await connect(1)).toMatch(outcome);
        expect(await connect(2)).toBe('connected');
      } finally {
        await bed.up(1);
      }
      expect(bed.faultOn(1)).toBeUndefined();
      expect(await connect(1)).toBe('connected');
    });
  }

  it('loss drops a share of packets: with 100% nothing passes, with 0% everything does', async () => {
    await bed.fault(1, { loss: 100 });
    try {
      expect(await connect(1)).toBe('ETIMEDOUT');
      await bed.fault(1, { loss: 0 });
      expect(await connect(1)).toBe('connected');
    } finally {
      await bed.up(1);
    }
  });

  it("dns-down silences carrier 1's resolver while its TCP still passes", async () => {
    await bed.fault(1, 'dns-down');
    try {
      expect(await resolve(1, 1)).toBe('ETIMEOUT');
      expect(await connect(1)).toBe('connected');
      expect(await resolve(2, 2)).toBe(bed.processorAddress);
    } finally {
      await bed.up(1);
    }
    expect(await resolve(1, 1)).toBe(bed.processorAddress);
  });

  it('blackhole-ipv6 on carrier 3 stops its IPv6 to the processor only: IPv4 and its IPv6 resolver still pass', async () => {
    const c3 = bed.carrier(3);
    const connect6 = async () =>
      (
        await bed.exec('store', [
          process.execPath,
          '-e',
          CONNECT,
          bed.processorAddress6,
          String(PROCESSOR_PORT),
          c3.storeAddress6!,
        ])
      ).stdout.trim();
    await bed.fault(3, 'blackhole-ipv6');
    try {
      expect(await connect6()).toBe('ETIMEDOUT');
      expect(await connect(3)).toBe('connected');
      const viaV6 = await bed.exec('store', [
        process.execPath,
        '-e',
        RESOLVE,
        c3.resolver6!,
        c3.storeAddress6!,
        PROCESSOR_HOSTNAME,
      ]);
      expect(viaV6.stdout.trim()).toBe(bed.processorAddress);
    } finally {
      await bed.up(3);
    }
    expect(await connect6()).toBe('connected');
  });

  it('destroy() removes every namespace and process it made, and may be called again', async () => {
    const other = await NetnsBed.create({ dns: true });
    const names = Object.values(other.ns);
    const pids = spawnSync('ip', ['netns', 'pids', other.ns.c1], { encoding: 'utf8' })
      .stdout.split(/\s+/)
      .filter(Boolean)
      .map(Number);
    expect(pids.length).toBeGreaterThan(0); // its dnsmasq
    await other.destroy();
    await other.destroy();
    const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const name of names) expect(listed).not.toContain(name);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/^kill ESRCH$/); // gone, not merely out of reach
  });

  it('removes a bed left by a run that died (its owner pid gone), and never a live one', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.pid'], { encoding: 'utf8' }).pid!;
    const stale = `ppbed-${dead}-1-store`;
    expect(spawnSync('ip', ['netns', 'add', stale]).status).toBe(0);
    const removed = cleanStaleBeds();
    const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    if (removed.includes(stale) === false) spawnSync('ip', ['netns', 'del', stale]);
    expect(removed).toContain(stale);
    expect(listed).not.toContain(stale);
    expect(listed).toContain(bed.ns.store);
  });

  it('a bed whose owner is killed: its processes die with it, and the next create() removes its namespaces', async () => {
    const module = fileURLToPath(new URL('./support/netns-bed.ts', import.meta.url));
    const owner = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const { NetnsBed } = await import(${JSON.stringify(module)});
      const bed = await NetnsBed.create();
      console.log(JSON.stringify({ ns: Object.values(bed.ns), c1: bed.ns.c1 }));
      setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const made = await new Promise<{ ns: string[]; c1: string }>((resolve, reject) => {
      owner.stdout.once('data', (chunk: Buffer) =>
        resolve(JSON.parse(chunk.toString()) as { ns: string[]; c1: string }),
      );
      owner.once('exit', (code) => reject(new Error(`bed owner exited early (${String(code)})`)));
    });
    const pids = spawnSync('ip', ['netns', 'pids', made.c1], { encoding: 'utf8' })
      .stdout.split(/\s+/)
      .filter(Boolean)
      .map(Number);
    expect(pids.length).toBeGreaterThan(0); // carrier 1's dnsmasq
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    const gone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    await until('every process of the bed to exit', () => pids.every(gone), {
      timeoutMs: 10_000,
      state: () => pids.filter((pid) => !gone(pid)),
    });
    const next = await NetnsBed.create({ dns: false });
    await next.destroy();
    const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const name of made.ns) expect(listed).not.toContain(name);
  });
});
