// A store box built from network namespaces (test/support/netns-bed.ts) with per-carrier routing
// tables: carrier 1 fails in the kernel, one fault at a time, under a stream of payments through
// `paypath serve` running in the store's namespace. Nothing fails, nothing is charged twice, and
// the processor sees the payments arrive from the surviving carriers' addresses. Carrier 3 reaches
// the processor over IPv6 (Korean LTE links are often IPv6-first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bedSupport, NetnsBed, type BedFault } from './support/netns-bed.ts';
import { until } from './support/poll.ts';

const PAYMENTS = 240;
/** Payment index before which carrier 1 fails: the first ones show carrier 1 was carrying payments. */
const FAULT_AT = 40;
const CONCURRENCY = 16;

const support = bedSupport();

describe.skipIf(!support.ok)(
  'store box on network namespaces, per-carrier routing, carrier 1 failing in the kernel',
  () => {
    let bed: NetnsBed;

    beforeAll(async () => {
      bed = await NetnsBed.create();
      await bed.addPerCarrierRouting();
      await bed.startProcessor();
      await bed.startGateway(bed.policyYaml({ upstream: 'address6' }));
    }, 60_000);

    afterAll(async () => {
      await bed?.destroy();
    });

    /** Payments 0..PAYMENTS-1, CONCURRENCY at a time; `fault` is made (awaited) before payment FAULT_AT is sent. */
    async function streamWithFault(
      prefix: string,
      fault: () => Promise<void>,
    ): Promise<{ status: number; path: string | null }[]> {
      const results: { status: number; path: string | null }[] = [];
      let next = 0;
      let faultMade: Promise<void> | undefined;
      const worker = async () => {
        while (next < PAYMENTS) {
          const i = next++;
          if (i === FAULT_AT) faultMade = fault();
          if (i >= FAULT_AT) await faultMade;
          results[i] = await bed.pay(`${prefix}-${i}`);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      return results;
    }

    /**
     * Waits until the gateway counts carrier 1's path usable and no longer degraded (a window of clean
     * probes after the last fault), so each fault meets a working carrier 1 that payments go to first.
     */
    async function waitCarrierOneUsable(): Promise<void> {
      let paths: { id: string; state: string; degradedSince: string | null }[] = [];
      await until(
        'kt-fiber closed and no longer degraded',
        async () => {
          ({ paths } = (await (await bed.gatewayFetch('/status')).json()) as {
            paths: typeof paths;
          });
          const kt = paths.find((p) => p.id === 'kt-fiber');
          return kt?.state === 'closed' && kt.degradedSince === null;
        },
        { timeoutMs: 30_000, intervalMs: 100, state: () => paths },
      );
    }

    it("the kernel picks carrier 3 for carrier 3's address only with the per-carrier tables", async () => {
      const c3 = bed.carrier(3);
      expect(await bed.routeGet(bed.processorAddress, c3.storeAddress)).toContain('dev s3');
      await bed.removePerCarrierRouting();
      try {
        expect(await bed.routeGet(bed.processorAddress, c3.storeAddress)).toContain('dev s1');
      } finally {
        await bed.addPerCarrierRouting();
      }
      expect(await bed.routeGet(bed.processorAddress6, c3.storeAddress6)).toContain('dev s3');
    });

    const faults: [string, BedFault][] = [
      ['blackhole', 'blackhole'],
      ['reset', 'reset'],
      ['unreachable', 'unreachable'],
      ['link-down', 'link-down'],
      ['loss-30', { loss: 30 }],
    ];

    for (const [name, fault] of faults) {
      it(`carrier 1 ${name}: ${PAYMENTS} payments, 0 failed, each charged once, the surviving carriers carry them`, async () => {
        await waitCarrierOneUsable();
        const prefix = `fault-${name}`;
        let results: { status: number; path: string | null }[];
        try {
          results = await streamWithFault(prefix, () => bed.fault(1, fault));
        } finally {
          await bed.up(1);
        }

        const failed = results.map((r, i) => ({ i, ...r })).filter((r) => r.status !== 201);
        expect(failed).toEqual([]);

        const ledger = await bed.ledger();
        const references = results.map((_, i) => `${prefix}-${i}`);
        const notOnce = references
          .filter((ref) => ledger.byReference[ref] !== 1)
          .map((ref) => [ref, ledger.byReference[ref] ?? 0]);
        expect(notOnce).toEqual([]);
        expect(ledger.duplicateCharges).toBe(0);

        const sources = (from: number, to: number) =>
          new Set(
            references.slice(from, to).flatMap((ref) => ledger.sourcesByReference[ref] ?? []),
          );
        const before = sources(0, FAULT_AT);
        const after = sources(FAULT_AT, PAYMENTS);
        // Carrier 1 was carrying payments when it failed …
        expect(before).toContain(bed.carrier(1).storeAddress);
        // … and afterwards the processor saw the other carriers' own addresses.
        const survivors = [bed.carrier(2).storeAddress, bed.carrier(3).storeAddress6!];
        expect([...after].filter((address) => survivors.includes(address)).length).toBeGreaterThan(
          0,
        );
        if (typeof fault !== 'object') {
          // Sent after the cut: none of them can have come through carrier 1.
          expect(after).not.toContain(bed.carrier(1).storeAddress);
        }
      }, 120_000);
    }

    it(`carriers 1 and 2 blackholed: ${PAYMENTS} payments, 0 failed, each charged once, all after the cut over IPv6 by carrier 3`, async () => {
      await waitCarrierOneUsable();
      const prefix = 'fault-two-blackholed';
      let results: { status: number; path: string | null }[];
      try {
        results = await streamWithFault(prefix, async () => {
          await bed.fault(1, 'blackhole');
          await bed.fault(2, 'blackhole');
        });
      } finally {
        await bed.up();
      }
      expect(results.filter((r) => r.status !== 201)).toEqual([]);
      const ledger = await bed.ledger();
      const references = results.map((_, i) => `${prefix}-${i}`);
      expect(references.filter((ref) => ledger.byReference[ref] !== 1)).toEqual([]);
      const after = new Set(
        references.slice(FAULT_AT).flatMap((ref) => ledger.sourcesByReference[ref] ?? []),
      );
      expect([...after]).toEqual([bed.carrier(3).storeAddress6]);
    }, 120_000);

    it('carrier 1 losing 30 % of packets, late answers not failing: its path is marked degraded and payments move off it', async () => {
      // Attempt timeouts of at least 1 s and a breaker that tolerates failures: late answers (TCP
      // retransmissions) do not fail, so only the degraded mark can move payments off the lossy carrier.
      // Probes stay on (their answers on the other paths show the processor is not the slow part, so
      // re-sends are not held to the retry budget), with a timeout past a lost SYN's 1 s resend; a probe
      // that still fails opens the breaker, so the assertions below are on the mark, not on the breaker
      // (src/core/gateway-degraded.test.ts shows the mark alone moving payments, with a closed breaker).
      await bed.stopGateway();
      await bed.startGateway(
        bed.policyYaml({
          upstream: 'address6',
          extra: {
            adaptiveTimeout: { floorMs: 1_000 },
            breaker: { consecutiveFailures: 10_000, errorThresholdPercentage: 100 },
            probe: { timeoutMs: 2_500 },
          },
        }),
      );
      type PathView = {
        id: string;
        state: string;
        degradedSince: string | null;
        badPercent: number | null;
      };
      const kt = async () =>
        ((await (await bed.gatewayFetch('/status')).json()) as { paths: PathView[] }).paths.find(
          (p) => p.id === 'kt-fiber',
        )!;
      try {
        expect((await kt()).degradedSince).toBeNull();
        const prefix = 'fault-loss-degraded';
        let results: { status: number; path: string | null }[];
        let during: PathView;
        try {
          results = await streamWithFault(prefix, () => bed.fault(1, { loss: 30 }));
          during = await kt();
        } finally {
          await bed.up(1);
        }
        expect(results.filter((r) => r.status !== 201)).toEqual([]);
        expect(during.degradedSince).not.toBeNull();
        // Once marked, payments went to carrier 2 first: the last quarter of them did not use carrier 1.
        expect(results.slice(-PAYMENTS / 4).filter((r) => r.path === 'kt-fiber')).toEqual([]);
        const ledger = await bed.ledger();
        expect(
          results.map((_, i) => `${prefix}-${i}`).filter((ref) => ledger.byReference[ref] !== 1),
        ).toEqual([]);
      } finally {
        await bed.stopGateway();
        await bed.startGateway(bed.policyYaml({ upstream: 'address6' }));
      }
    }, 120_000);
  },
);
