// `node bench/store-box-dns.ts [--resolvers per-path|system] [--upstream hostname|address] [--rate 100] [--seconds 40] [--cut 5-35]`
// (as root): carrier 1 and its resolver cut on a store box built from network namespaces
// (test/support/netns-bed.ts) while payments arrive open-loop, the processor named by a host name
// (TTL 1 s) and closing a connection after 100 answers (nginx's keepalive_requests).
// `--resolvers per-path` gives each path its carrier's resolver (`dns:`); `system` leaves it out, so
// every path asks the box's system resolver (carrier 1's). Prints failed payments and latency; not
// a test, asserts nothing. Bounded: rate x seconds payments, each with a 20 s timeout; all traffic
// stays inside the bed's namespaces, which it removes.
import { parseArgs } from 'node:util';
import { bedSupport, NetnsBed } from '../test/support/netns-bed.ts';

const { values } = parseArgs({
  options: {
    resolvers: { type: 'string', default: 'per-path' },
    rate: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '40' },
    cut: { type: 'string', default: '5-35' },
    upstream: { type: 'string', default: 'hostname' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const [cutFrom, cutTo] = values.cut.split('-').map(Number) as [number, number];
const perPath = values.resolvers === 'per-path';

const support = bedSupport();
if (!support.ok) {
  console.error(`cannot build a store box here: ${support.reason}`);
  process.exit(1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bed = await NetnsBed.create({ ipv6Carrier: 0, dnsTtlSeconds: 1 });
try {
  await bed.addPerCarrierRouting();
  await bed.startProcessor({ maxRequestsPerSocket: 100 });
  const policy = JSON.parse(
    bed.policyYaml({ upstream: values.upstream === 'address' ? 'address' : 'hostname' }),
  ) as { paths: { id: string; dns?: string[] }[] };
  if (perPath && values.upstream !== 'address')
    for (const path of policy.paths)
      path.dns = [bed.carriers.find((c) => c.pathId === path.id)!.resolver];
  await bed.startGateway(JSON.stringify(policy));
  // One payment first, so every path has had its start-up.
  await (
    await bed.gatewayFetch('/v1/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"amount":1}',
    })
  ).text();

  type DnsStatus = { dns?: { path: string; names: { waited: number; lookups: number }[] }[] };
  const dnsNow = async () =>
    ((await (await bed.gatewayFetch('/status')).json()) as DnsStatus).dns?.map((d) => ({
      path: d.path,
      lookups: d.names[0]?.lookups,
      waited: d.names[0]?.waited,
    }));
  const dnsBefore = await dnsNow();
  const total = rate * seconds;
  const results: { status: number; ms: number; path: string | null; at: number }[] = [];
  const start = performance.now();
  const pending: Promise<void>[] = [];
  let cut = false;
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1_000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const elapsed = (performance.now() - start) / 1_000;
    if (!cut && elapsed >= cutFrom && elapsed < cutTo) {
      cut = true;
      void bed.fault(1, 'blackhole');
    } else if (cut && elapsed >= cutTo) {
      cut = false;
      void bed.up(1);
    }
    const sent = performance.now();
    pending.push(
      bed
        .gatewayFetch('/v1/payments', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `dns-bench-${i}` },
          body: JSON.stringify({ amount: 4500, currency: 'KRW', reference: `dns-bench-${i}` }),
          signal: AbortSignal.timeout(20_000),
        })
        .then(async (response) => {
          await response.text();
          results.push({
            status: response.status,
            ms: performance.now() - sent,
            path: response.headers.get('x-paypath-path'),
            at: elapsed,
          });
        })
        .catch(() => {
          results.push({ status: 0, ms: performance.now() - sent, path: null, at: elapsed });
        }),
    );
  }
  await Promise.all(pending);
  await bed.up(1);

  const failed = results.filter((r) => r.status !== 201);
  const latency = (of: typeof results) => {
    const sorted = of.map((r) => r.ms).sort((a, b) => a - b);
    const q = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]?.toFixed(0);
    return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`;
  };
  const byStatus: Record<string, number> = {};
  for (const r of failed) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const byPath: Record<string, number> = {};
  for (const r of results) if (r.path) byPath[r.path] = (byPath[r.path] ?? 0) + 1;
  const ledger = await bed.ledger();
  const dnsAfter = await dnsNow();
  console.log(
    `upstream by ${values.upstream}, resolvers: ${values.resolvers}; ${total} payments at ${rate}/s, carrier 1 and its resolver cut from ${cutFrom} s to ${cutTo} s`,
  );
  console.log(
    `failed: ${failed.length} of ${total} ${JSON.stringify(byStatus)}; duplicate charges: ${ledger.duplicateCharges}`,
  );
  console.log(`latency: ${latency(results)}; carried by ${JSON.stringify(byPath)}`);
  console.log(`  before the cut: ${latency(results.filter((r) => r.at < cutFrom))}`);
  console.log(
    `  during the cut: ${latency(results.filter((r) => r.at >= cutFrom && r.at < cutTo))}`,
  );
  console.log(`  after the cut:  ${latency(results.filter((r) => r.at >= cutTo))}`);
  if (dnsAfter)
    console.log(
      `dns lookups (waited for DNS) per path, before -> after the run: ${dnsAfter.map((d, i) => `${d.path} ${dnsBefore?.[i]?.lookups} (${dnsBefore?.[i]?.waited}) -> ${d.lookups} (${d.waited})`).join(', ')}`,
    );
} finally {
  await bed.destroy();
}
