// The truth about egress, on a store box built from network namespaces (test/support/netns-bed.ts)
// and wired as most boxes are by hand: three interfaces, one default route via carrier 1. A bind
// address per path does not choose the carrier there; paypath must say so (shared egress, N+0),
// `paypath doctor` must print the commands that fix it, and once they ran the level must climb
// back to N+2 without a restart. An `interface:` path must follow its interface's new address.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from './support/prom-text.ts';
import {
  bedSupport,
  NetnsBed,
  PROCESSOR_ADDRESS,
  PROCESSOR_HOSTNAME,
  PROCESSOR_PORT,
} from './support/netns-bed.ts';
import { until } from './support/poll.ts';

const PAYPATH = join(import.meta.dirname, '..', 'bin', 'paypath.js');
const support = bedSupport();

interface StatusJson {
  redundancy: { level: string; healthy: number; total: number };
  sharedEgress: { egress: string; paths: string[] }[];
  paths: {
    id: string;
    state: string;
    degradedSince: string | null;
    egress: {
      state: string;
      interface: string | null;
      gateway: string | null;
      source: string | null;
      table: string | null;
      sharedWith: string[];
    };
  }[];
}

describe.skipIf(!support.ok)('store box wired by hand: egress, doctor, interface paths', () => {
  let bed: NetnsBed;

  // A fresh bed per test (about a second): the first needs the box as wired by hand, one default
  // route and no rule, and changes its routing; the second adds a rule and moves carrier 3's address.
  beforeEach(async () => {
    bed = await NetnsBed.create();
    await bed.startProcessor();
  }, 60_000);

  afterEach(async () => {
    await bed?.destroy();
  });

  async function sharedMetric(path: string): Promise<number | undefined> {
    const text = await (
      await bed.gatewayFetch('/metrics', { signal: AbortSignal.timeout(5_000) })
    ).text();
    return sampleValue(parsePrometheusText(text), 'paypath_path_egress_shared', { path });
  }

  const waitForStatus = (what: string, done: (s: StatusJson) => boolean) =>
    bed.waitForGatewayStatus(what, done, {
      show: (s: StatusJson) => ({
        redundancy: s.redundancy,
        sharedEgress: s.sharedEgress,
        paths: s.paths.map((p) => ({ id: p.id, state: p.state, egress: p.egress })),
      }),
    });

  /** The bed's three paths, each with its carrier's next hop, as the corrected store-box example writes them. */
  function policy(
    overrides: (c: ReturnType<NetnsBed['carrier']>) => Record<string, unknown> = () => ({}),
  ): string {
    return JSON.stringify({
      version: 1,
      paths: bed.carriers.map((c) => ({
        id: c.pathId,
        upstream: `http://${PROCESSOR_ADDRESS}:${PROCESSOR_PORT}`,
        bind: c.storeAddress,
        gateway: c.nextHop,
        grade: 'hot',
        ...overrides(c),
      })),
      routes: [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: bed.carriers.map((c) => c.pathId),
          idempotency: { header: 'Idempotency-Key', upstreamHonors: true },
        },
      ],
    });
  }

  it("shows the shared egress and N+0 at start, and N+2 without a restart once doctor's commands ran", async () => {
    expect(await bed.routeGet(PROCESSOR_ADDRESS, bed.carrier(3).storeAddress)).toContain('dev s1');
    const text = policy();
    await bed.startGateway(text);
    try {
      const misrouted = await waitForStatus('shared egress', (s) => s.sharedEgress.length > 0);
      expect(misrouted.redundancy).toEqual({ level: 'N+0', healthy: 1, total: 1 });
      expect(misrouted.sharedEgress).toEqual([
        { egress: 's1 via 10.201.1.1', paths: ['kt-fiber', 'skt-fiber', 'lgu-lte'] },
      ]);
      expect(misrouted.paths.find((p) => p.id === 'lgu-lte')!.egress).toMatchObject({
        state: 'known',
        interface: 's1',
        gateway: '10.201.1.1',
        source: '10.201.3.2',
        sharedWith: ['kt-fiber', 'skt-fiber'],
      });
      expect(await sharedMetric('lgu-lte')).toBe(2);

      // `paypath status` says it too, and why.
      const cli = await bed.exec('store', [process.execPath, PAYPATH, 'status'], {
        allowFailure: true,
      });
      expect(cli.stdout).toMatch(/^redundancy N\+0 \(1\/1 independent paths healthy\)/m);
      expect(cli.stdout).toContain('kt-fiber, skt-fiber, lgu-lte all leave by s1 via 10.201.1.1');
      expect(cli.stdout).toMatch(
        /lgu-lte\s+closed\s+hot\s+s1 via 10\.201\.1\.1 from 10\.201\.3\.2/,
      );

      // Doctor names the problem and prints the fix; the test runs exactly what it printed.
      const file = join(bed.dir, 'doctor-policy.yaml');
      writeFileSync(file, text);
      const doctor = await bed.exec(
        'store',
        [process.execPath, PAYPATH, 'doctor', '--policy', file],
        { allowFailure: true },
      );
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toContain(
        'kt-fiber, skt-fiber, lgu-lte all leave by s1 via 10.201.1.1: they are one path for redundancy',
      );
      expect(doctor.stdout).toContain(
        'lgu-lte: its address 10.201.3.2 is on s3, but its packets leave by s1 via 10.201.1.1',
      );
      const commands = doctor.stdout
        .split('\n')
        .filter((line) => /^ {2}ip /.test(line))
        .map((line) => line.trim());
      expect(commands).toEqual([
        'ip rule add from 10.201.1.2 table 101 priority 1000',
        'ip route replace default via 10.201.1.1 dev s1 table 101',
        'ip rule add from 10.201.2.2 table 102 priority 1001',
        'ip route replace default via 10.201.2.1 dev s2 table 102',
        'ip rule add from 10.201.3.2 table 103 priority 1002',
        'ip route replace default via 10.201.3.1 dev s3 table 103',
      ]);
      expect(doctor.stdout).toContain('  [RoutingPolicyRule]\n  From=10.201.3.2\n  Table=103');
      expect(doctor.stdout).toContain(
        '+ipv4.routing-rules "priority 1002 from 10.201.3.2 table 103"',
      );
      for (const command of commands) await bed.exec('store', command.split(' '));

      const fixed = await waitForStatus('N+2 after the fix', (s) => s.redundancy.level === 'N+2');
      expect(await sharedMetric('lgu-lte')).toBe(0);
      expect(fixed.sharedEgress).toEqual([]);
      expect(
        fixed.paths.map((p) => [p.egress.interface, p.egress.gateway, p.egress.table]),
      ).toEqual([
        ['s1', '10.201.1.1', '101'],
        ['s2', '10.201.2.1', '102'],
        ['s3', '10.201.3.1', '103'],
      ]);
      const again = await bed.exec(
        'store',
        [process.execPath, PAYPATH, 'doctor', '--policy', file],
        { allowFailure: true },
      );
      expect(again.stdout).toContain('No problems found');
      expect(again.code).toBe(0);

      // With a host-name upstream, doctor asks the system resolver (carrier 1's) from every path's
      // address: now that each path leaves by its own carrier, only carrier 1's path reaches it.
      const named = join(bed.dir, 'doctor-named.yaml');
      writeFileSync(
        named,
        text.replaceAll(
          `http://${PROCESSOR_ADDRESS}:${PROCESSOR_PORT}`,
          `http://${PROCESSOR_HOSTNAME}:${PROCESSOR_PORT}`,
        ),
      );
      const dns = await bed.exec(
        'store',
        [process.execPath, PAYPATH, 'doctor', '--policy', named],
        { allowFailure: true },
      );
      expect(dns.code).toBe(1);
      expect(dns.stdout).toMatch(/kt-fiber .*ok 10\.204\.1\.53 answered 10\.203\.0\.10/);
      expect(dns.stdout).toContain(`lgu-lte: resolver 10.204.1.53 did not answer from 10.201.3.2`);
      expect(dns.stdout).toContain(`${PROCESSOR_HOSTNAME} cannot be resolved on this path`);
    } finally {
      await bed.stopGateway();
    }
  }, 90_000);

  it('an interface path follows its address when the link reconnects with a new one, while payments flow', async () => {
    const c3 = bed.carrier(3);
    const routeCarrier3 = () =>
      bed.exec('store', [
        'ip',
        'route',
        'replace',
        'default',
        'via',
        c3.nextHop,
        'dev',
        's3',
        'table',
        '103',
      ]);
    // Carrier 3's table, chosen for any address of its range (an LTE address changes on every reconnect).
    await bed.exec('store', [
      'ip',
      'rule',
      'add',
      'from',
      '10.201.3.0/24',
      'table',
      '103',
      'priority',
      '900',
    ]);
    await routeCarrier3();
    const text = policy((c) => (c.n === 3 ? { bind: undefined, interface: 's3' } : {})).replace(
      /"paths":\["kt-fiber","skt-fiber","lgu-lte"\]/,
      '"paths":["lgu-lte","kt-fiber","skt-fiber"]',
    );
    expect(text).toContain('"interface":"s3"');
    await bed.startGateway(text);
    let stop = false;
    let workers: Promise<unknown> = Promise.resolve();
    try {
      await waitForStatus(
        'lgu-lte on s3 from 10.201.3.2',
        (s) => s.paths.find((p) => p.id === 'lgu-lte')!.egress.source === '10.201.3.2',
      );
      await bed.resetLedger();
      const results = new Map<
        string,
        { status: number; path: string | null; phase: 'before' | 'during' | 'after' }
      >();
      let phase: 'before' | 'during' | 'after' = 'before';
      let sent = 0;
      const deadline = Date.now() + 60_000;
      const worker = async () => {
        while (!stop && sent < 2_000 && Date.now() < deadline) {
          const reference = `iface-${sent++}`;
          const at = phase;
          const { status, path } = await bed.pay(reference);
          results.set(reference, { status, path, phase: at });
        }
      };
      workers = Promise.all(Array.from({ length: 4 }, worker));
      const waitFor = (what: string, done: () => boolean) =>
        until(what, done, { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 20 });
      const waitSent = (count: number) => waitFor(`${count} payments sent`, () => sent >= count);
      await waitSent(40);
      // The link drops its address and comes back with another; the connection manager re-adds its route.
      phase = 'during';
      await bed.exec('store', ['ip', 'addr', 'del', `${c3.storeAddress}/24`, 'dev', 's3']);
      await waitSent(sent + 20);
      await bed.exec('store', ['ip', 'addr', 'add', '10.201.3.7/24', 'dev', 's3']);
      await routeCarrier3();
      // Attempts while it had no address were not sent and may have opened its breaker or marked
      // it degraded (tried after its siblings); clean probes close it and lift the mark again.
      const moved = await waitForStatus('lgu-lte usable from 10.201.3.7', (s) => {
        const lte = s.paths.find((p) => p.id === 'lgu-lte')!;
        return (
          lte.egress.source === '10.201.3.7' && lte.state === 'closed' && lte.degradedSince === null
        );
      });
      expect(moved.paths.find((p) => p.id === 'lgu-lte')!.egress).toMatchObject({
        state: 'known',
        interface: 's3',
        gateway: c3.nextHop,
        table: '103',
      });
      phase = 'after';
      // Its first payments after a reconnect may still meet a breaker or degraded mark that the
      // gap left behind (on a loaded machine): wait for lgu-lte to carry 20 of them, not a share.
      const carriedAfter = () =>
        [...results.values()].filter((r) => r.phase === 'after' && r.path === 'lgu-lte').length;
      await waitFor('lgu-lte to carry 20 payments after the change', () => carriedAfter() >= 20);
      stop = true;
      await workers;

      expect([...results.values()].filter((r) => r.status !== 201)).toEqual([]);
      const ledger = await bed.ledger();
      expect(ledger.duplicateCharges).toBe(0);
      expect(ledger.charges).toBe(results.size);
      const sources = (phaseWanted: string) =>
        [...results.entries()]
          .filter(([, r]) => r.phase === phaseWanted)
          .flatMap(([reference]) => ledger.sourcesByReference[reference] ?? []);
      expect(sources('before').filter((a) => a === c3.storeAddress).length).toBeGreaterThan(0);
      const after = sources('after');
      // Sent after the change, payments ride lgu-lte again, from its new address, never the old one.
      expect(after).not.toContain(c3.storeAddress);
      expect(after.filter((a) => a === '10.201.3.7').length).toBeGreaterThanOrEqual(20);
    } finally {
      stop = true;
      await workers.catch(() => {});
      await bed.stopGateway();
    }
  }, 120_000);
});
