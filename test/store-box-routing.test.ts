// routing.manage on a store box built from network namespaces (test/support/netns-bed.ts), wired by
// hand with one default route via carrier 1: `paypath serve` keeps a routing table per path itself,
// moves a path's rule when its interface's address changes, and removes everything it added on exit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bedSupport, NetnsBed, PROCESSOR_ADDRESS, PROCESSOR_PORT } from './support/netns-bed.ts';

const support = bedSupport();

interface StatusJson {
  redundancy: { level: string };
  paths: {
    id: string;
    egress: { interface: string | null; source: string | null; table: string | null };
  }[];
}

describe.skipIf(!support.ok)(
  'store box: per-path routing tables kept by paypath (routing.manage)',
  () => {
    let bed: NetnsBed;

    beforeAll(async () => {
      bed = await NetnsBed.create({ ipv6Carrier: 0, dns: false });
      await bed.startProcessor();
    }, 60_000);

    afterAll(async () => {
      await bed?.destroy();
    });

    const waitForStatus = (what: string, done: (s: StatusJson) => boolean) =>
      bed.waitForGatewayStatus(what, done, {
        show: (s: StatusJson) => ({
          level: s.redundancy.level,
          paths: s.paths.map((p) => ({ id: p.id, egress: p.egress })),
        }),
      });

    const rules = async () => (await bed.exec('store', ['ip', 'rule', 'show'])).stdout;
    const table = async (n: number) =>
      (
        await bed.exec('store', ['ip', 'route', 'show', 'table', String(n)], { allowFailure: true })
      ).stdout.trim();

    it("adds a table per path at start (N+2 on a box wired by hand), follows an interface's new address, and removes its tables on exit", async () => {
      const policy = JSON.stringify({
        version: 1,
        paths: bed.carriers.map((c) => ({
          id: c.pathId,
          upstream: `http://${PROCESSOR_ADDRESS}:${PROCESSOR_PORT}`,
          ...(c.n === 3 ? { interface: 's3' } : { bind: c.storeAddress }),
          gateway: c.nextHop,
        })),
        routes: [
          {
            id: 'payments',
            match: { method: 'POST', path: '/v1/payments' },
            class: 'payment',
            paths: bed.carriers.map((c) => c.pathId),
            idempotency: { upstreamHonors: true },
          },
        ],
        routing: { manage: true, tableBase: 200, rulePriority: 2000 },
      });
      const before = await rules();
      expect(before).not.toContain('lookup 20');
      await bed.startGateway(policy);
      try {
        const managed = await waitForStatus(
          'N+2 with managed tables',
          (s) => s.redundancy.level === 'N+2',
        );
        expect(managed.paths.map((p) => [p.egress.interface, p.egress.table])).toEqual([
          ['s1', '201'],
          ['s2', '202'],
          ['s3', '203'],
        ]);
        expect(await rules()).toContain('2002:\tfrom 10.201.3.2 lookup 203');
        expect(await table(203)).toBe('default via 10.201.3.1 dev s3');

        // The LTE link reconnects with another address; its rule moves with it.
        await bed.exec('store', ['ip', 'addr', 'del', '10.201.3.2/24', 'dev', 's3']);
        await bed.exec('store', ['ip', 'addr', 'add', '10.201.3.9/24', 'dev', 's3']);
        const moved = await waitForStatus('lgu-lte by s3 from 10.201.3.9', (s) => {
          const lte = s.paths.find((p) => p.id === 'lgu-lte')!.egress;
          return lte.source === '10.201.3.9' && lte.interface === 's3' && lte.table === '203';
        });
        expect(moved.redundancy.level).toBe('N+2');
        const after = await rules();
        expect(after).toContain('from 10.201.3.9 lookup 203');
        expect(after).not.toContain('from 10.201.3.2 lookup 203');
      } finally {
        await bed.stopGateway();
      }
      const left = await rules();
      expect(left).not.toMatch(/lookup 20[123]/);
      expect([await table(201), await table(202), await table(203)].join('')).not.toContain(
        'default',
      );
      expect(left).toBe(before);
    }, 90_000);
  },
);
