// Happy Eyeballs on a store box built from network namespaces (test/support/netns-bed.ts): carrier 3
// is dual-stack, and its path names its interface (s3) and the processor by host name, resolved
// through carrier 3's own resolvers (A and AAAA). While IPv6 works the path carries payments over
// IPv6 from s3's IPv6 address; with IPv6 to the processor dropped in the kernel (nftables), over
// IPv4 from s3's IPv4 address. The processor closes a connection after 50 answers, so new
// connections (and so new races) keep coming.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PathDnsState } from '../src/adapters/node/path-resolver-types.ts';
import {
  bedSupport,
  NetnsBed,
  PROCESSOR_ADDRESS,
  PROCESSOR_HOSTNAME,
  PROCESSOR_PORT,
  type Ledger,
} from './support/netns-bed.ts';

const support = bedSupport();

describe.skipIf(!support.ok)('store box: a dual-stack interface path (Happy Eyeballs)', () => {
  let bed: NetnsBed;
  const results = new Map<string, number>();

  beforeAll(async () => {
    bed = await NetnsBed.create({ ipv6Carrier: 3 });
    await bed.addPerCarrierRouting();
    await bed.startProcessor({ maxRequestsPerSocket: 50 });
    const c3 = bed.carrier(3);
    const policy = {
      version: 1,
      paths: [
        {
          id: c3.pathId,
          upstream: `http://${PROCESSOR_HOSTNAME}:${PROCESSOR_PORT}`,
          interface: c3.storeInterface,
          dns: [c3.resolver6!, c3.resolver],
          grade: 'hot',
        },
        ...[1, 2].map((n) => ({
          id: bed.carrier(n as 1 | 2).pathId,
          upstream: `http://${PROCESSOR_ADDRESS}:${PROCESSOR_PORT}`,
          bind: bed.carrier(n as 1 | 2).storeAddress,
          grade: 'hot',
        })),
      ],
      routes: [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: [c3.pathId, bed.carrier(1).pathId, bed.carrier(2).pathId],
          idempotency: { header: 'Idempotency-Key', upstreamHonors: true },
        },
      ],
    };
    await bed.startGateway(JSON.stringify(policy));
    await bed.waitForGatewayStatus<{ dns: (PathDnsState & { path: string })[] }>(
      'lgu-lte resolved both families',
      (s) => (s.dns.find((d) => d.path === c3.pathId)?.names[0]?.addresses.length ?? 0) === 2,
      { show: (s) => s.dns },
    );
  }, 60_000);

  afterAll(async () => {
    await bed?.destroy();
  });

  /** Sends payments 8 at a time, 40 per round, until `done` holds for the ledger's view of this phase's payments; returns their references. */
  async function payUntil(
    phase: string,
    done: (sources: string[][]) => boolean,
    timeoutMs = 60_000,
  ): Promise<string[][]> {
    const references: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (let round = 0; ; round++) {
      const batch = Array.from({ length: 40 }, (_, i) => `${phase}-${round}-${i}`);
      for (let i = 0; i < batch.length; i += 8) {
        await Promise.all(
          batch
            .slice(i, i + 8)
            .map(async (reference) => results.set(reference, (await bed.pay(reference)).status)),
        );
      }
      references.push(...batch);
      const ledger: Ledger = await bed.ledger();
      const sources = references.map((reference) => ledger.sourcesByReference[reference] ?? []);
      if (done(sources)) return sources;
      if (Date.now() > deadline)
        throw new Error(
          `${phase}: not done within ${timeoutMs} ms; sources ${JSON.stringify(ledger.bySource)}`,
        );
    }
  }

  const from = (sources: string[][], address: string) =>
    sources.filter((s) => s.includes(address)).length;

  it('carries payments over IPv6 while it works, over IPv4 from the same interface while IPv6 is blackholed: 0 failed, 0 charged twice', async () => {
    const c3 = bed.carrier(3);
    const v6 = c3.storeAddress6!;
    const v4 = c3.storeAddress;

    const status = await bed.gatewayStatus<{ dns: (PathDnsState & { path: string })[] }>();
    expect(status.dns.find((d) => d.path === c3.pathId)).toMatchObject({
      localAddresses: [v6, v4],
      families: [6, 4],
      servers: [c3.resolver6, c3.resolver],
    });

    // IPv6 works: the path connects over IPv6 first, and never needs IPv4. (Counted, not a share:
    // on a loaded machine some payments time out to the next path whatever the family.)
    const before = await payUntil('v6-up', (sources) => from(sources, v6) >= 100);
    expect(from(before, v4)).toBe(0);

    // IPv6 to the processor dropped through carrier 3 (its connections freeze): payments in flight on
    // them fail over under their key; new connections race and IPv4 wins, from s3's IPv4 address
    // (and, remembered, goes first for the connections after).
    let during: string[][];
    await bed.fault(3, 'blackhole-ipv6');
    try {
      during = await payUntil('v6-cut', (sources) => from(sources.slice(-40), v4) >= 30);
    } finally {
      await bed.up(3);
    }
    // Once the path carries payments again, it carries them over IPv4 only.
    expect(from(during.slice(-40), v6)).toBe(0);

    expect([...results].filter(([, status]) => status !== 201)).toEqual([]);
    const ledger = await bed.ledger();
    expect(ledger.duplicateCharges).toBe(0);
    expect(ledger.charges).toBe(results.size);
    expect(Object.values(ledger.byReference).filter((count) => count !== 1)).toEqual([]);
  }, 150_000);
});
