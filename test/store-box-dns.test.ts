// DNS per path on a store box built from network namespaces (test/support/netns-bed.ts): the
// processor named by a host name (TTL 1 s), each carrier's resolver reachable only through that
// carrier, the box's system resolver carrier 1's, per-carrier routing, carrier 3 IPv6, and the
// processor closing a connection after 100 answers (nginx's keepalive_requests), so new
// connections, and lookups, keep coming. With one system resolver for all paths, cutting carrier 1
// failed about half the payments (every lookup died with it); with DNS per path none fail.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PathDnsState } from '../src/adapters/node/path-resolver-types.ts';
import { bedSupport, NetnsBed, type BedProcess, type CarrierNumber } from './support/netns-bed.ts';
import { until } from './support/poll.ts';

const support = bedSupport();

type DnsStatus = Map<string, PathDnsState & { path: string }>;

describe.skipIf(!support.ok)('store box on network namespaces: DNS per path', () => {
  let bed: NetnsBed;
  let policy: string;
  let gateway: BedProcess;

  beforeAll(async () => {
    bed = await NetnsBed.create({ ipv6Carrier: 3, dnsTtlSeconds: 1 });
    await bed.addPerCarrierRouting();
    await bed.startProcessor({ maxRequestsPerSocket: 100 });
    // The processor by host name on every path; each path asks its own carrier's resolvers.
    // Carrier 3 is the IPv6 one: it binds its IPv6 address and asks its IPv6 resolver (AAAA).
    const c3 = bed.carrier(3);
    const document = JSON.parse(bed.policyYaml({ upstream: 'hostname' })) as {
      paths: { id: string; bind: string; dns?: string[] }[];
    };
    for (const path of document.paths) {
      const carrier = bed.carriers.find((c) => c.pathId === path.id)!;
      if (carrier === c3) {
        path.bind = c3.storeAddress6!;
        path.dns = [c3.resolver6!];
      } else path.dns = [carrier.resolver];
    }
    policy = JSON.stringify(document);
  }, 60_000);

  afterAll(async () => {
    await bed?.destroy();
  });

  // A fresh gateway per test, every carrier up: connections that lived through a test's cut keep
  // their retransmission backoff after the carrier returns, and the answers they hold up mark that
  // path degraded (tried last) in the next test, which counts on it carrying payments.
  beforeEach(async () => {
    await bed.up();
    gateway = await bed.startGateway(policy);
    await waitForDns('every path has an answer', (state) =>
      bed.carriers.every((c) => (nameState(state, c.n)?.addresses.length ?? 0) > 0),
    );
  }, 60_000);

  afterEach(async () => {
    await bed?.stopGateway();
  });

  async function dnsStatus(): Promise<DnsStatus> {
    const status = (await (await bed.gatewayFetch('/status')).json()) as {
      dns: (PathDnsState & { path: string })[];
    };
    return new Map(status.dns.map((entry) => [entry.path, entry]));
  }

  function nameState(state: DnsStatus, n: CarrierNumber) {
    return state
      .get(bed.carrier(n).pathId)
      ?.names.find((name) => name.hostname === bed.processorHostname);
  }

  async function waitForDns(
    what: string,
    check: (state: DnsStatus) => boolean,
    timeoutMs = 20_000,
  ): Promise<void> {
    await until(what, async () => check(await dnsStatus()), {
      timeoutMs,
      intervalMs: 100,
      state: async () => [...(await dnsStatus()).values()],
    });
  }

  /** `count` payments, `concurrency` at a time; `beforeIndex(i)` is awaited by the worker about to send payment i. */
  async function stream(
    prefix: string,
    count: number,
    concurrency: number,
    beforeIndex: (i: number) => Promise<void> = async () => {},
  ) {
    const results: { status: number; path: string | null }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        await beforeIndex(i);
        results[i] = await bed.pay(`${prefix}-${i}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
  }

  it('each path resolves through its own carrier: A records for IPv4 paths, AAAA for the IPv6 one', async () => {
    const state = await dnsStatus();
    expect(state.get('kt-fiber')).toMatchObject({
      servers: [bed.carrier(1).resolver],
      localAddresses: [bed.carrier(1).storeAddress],
      families: [4],
    });
    expect(nameState(state, 1)?.addresses).toEqual([bed.processorAddress]);
    expect(nameState(state, 2)?.addresses).toEqual([bed.processorAddress]);
    expect(state.get('lgu-lte')).toMatchObject({
      servers: [bed.carrier(3).resolver6],
      localAddresses: [bed.carrier(3).storeAddress6],
      families: [6],
    });
    expect(nameState(state, 3)?.addresses).toEqual([bed.processorAddress6]);
  });

  it('carrier 1 and its resolver cut for longer than the TTL, the processor closing connections every 100 answers: 0 failed, no payment waits on DNS', async () => {
    const before = await dnsStatus();
    let cut: Promise<void> | undefined;
    let restored: Promise<void> | undefined;
    let results: { status: number; path: string | null }[];
    try {
      results = await stream('dns-cut', 800, 16, async (i) => {
        // blackhole drops everything through and to carrier 1, its resolver included.
        if (i === 100) cut = bed.fault(1, 'blackhole');
        if (i >= 100) await cut;
        // The cut lasts until carrier 1's answer has gone stale (its TTL passed) and a refresh failed (its resolver silent).
        if (i === 600) {
          restored = waitForDns(
            "carrier 1's answer stale, its refresh failed",
            (state) =>
              nameState(state, 1)?.stale === true && nameState(state, 1)?.lastError !== undefined,
          ).then(() => bed.up(1));
        }
        if (i >= 600) await restored;
      });
    } finally {
      await bed.up(1);
    }

    const failed = results.map((r, i) => ({ i, ...r })).filter((r) => r.status !== 201);
    expect(failed).toEqual([]);
    const ledger = await bed.ledger();
    expect(ledger.duplicateCharges).toBe(0);
    expect(Object.values(ledger.byReference).filter((count) => count !== 1)).toEqual([]);
    const after = await dnsStatus();
    for (const c of bed.carriers) {
      // No lookup during the payments waited for DNS: each new connection found its answer cached.
      expect(nameState(after, c.n)?.waited, c.pathId).toBe(nameState(before, c.n)?.waited);
    }
    // The surviving carriers carried every payment while carrier 1 was cut (which of the two took
    // each is not asserted: on a loaded machine slow answers move payments on to lgu-lte, as they
    // should); no payment waited on DNS for its new connections, as checked above.
    const cutResults = results.slice(100, 600);
    expect(cutResults.filter((r) => r.path === 'kt-fiber')).toEqual([]);
    expect(cutResults.filter((r) => r.path === 'skt-fiber').length).toBeGreaterThan(0);
    expect(nameState(after, 2)!.lookups - nameState(before, 2)!.lookups).toBeGreaterThanOrEqual(3);
    expect(nameState(after, 1)?.lastError).toBeDefined(); // carrier 1's resolver did go silent
    await gateway.waitFor(
      /"event":"dns_failing","path":"kt-fiber".*"stillUsing":\["10\.203\.0\.10"\]/,
      5_000,
    ); // throws if not logged
  }, 120_000);

  it('with carriers 1 and 2 cut, the IPv6 carrier carries payments to the address its own resolver gave', async () => {
    await bed.resetLedger();
    let results: { status: number; path: string | null }[];
    try {
      await bed.fault(1, 'blackhole');
      await bed.fault(2, 'blackhole');
      results = await stream('dns-v6', 150, 8);
    } finally {
      await bed.up();
    }
    expect(results.filter((r) => r.status !== 201)).toEqual([]);
    // This test's payments only: a request of the test before, held in a cut carrier's TCP
    // retransmissions, may still reach the processor once that carrier is back.
    const ledger = await bed.ledger();
    const sources = results.flatMap((_, i) => ledger.sourcesByReference[`dns-v6-${i}`] ?? []);
    expect(sources.length).toBeGreaterThanOrEqual(150);
    expect(new Set(sources)).toEqual(new Set([bed.carrier(3).storeAddress6]));
  }, 120_000);
});
