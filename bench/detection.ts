// `npm run bench:detection`: how fast failure detection and shared health are, on loopback.
// Reports (1) trip propagation time between two instances through Redis, (2) payments that met a
// carrier after it was cut (with probes on), (3) connect hedging's added latency when the first
// path's connects hang. Not a test: it prints numbers and asserts nothing. Every loop is bounded
// in count and time; all traffic stays on 127.0.0.0/8; it starts its own redis-server.
import { createUndiciTransport } from '../src/adapters/node/undici-transport.ts';
import { RedisHealthStore } from '../src/adapters/node/redis/health-store.ts';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import { OpossumBreaker } from '../src/adapters/node/opossum-breaker.ts';
import { Gateway } from '../src/core/gateway.ts';
import { PolicySchema } from '../src/core/policy/schema.ts';
import { DetectionRig, pay } from '../test/support/detection-harness.ts';
import { TestRedisServer } from '../test/support/redis-server.ts';
import { UnacceptedListener } from '../test/support/unaccepted-listener.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantiles(samples: number[]): string {
  if (samples.length === 0) return 'no samples';
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(2);
  return `n=${sorted.length} p50=${q(0.5)} ms p99=${q(0.99)} ms max=${sorted.at(-1)!.toFixed(2)} ms`;
}

async function tripPropagation(): Promise<void> {
  const redis = await TestRedisServer.start();
  const policy = PolicySchema.parse({
    version: 1,
    paths: [{ id: 'a', upstream: 'http://127.0.0.1:9' }],
    breaker: { resetTimeoutMs: 600_000 },
    probe: { enabled: false },
    routes: [{ id: 'p', match: { method: 'POST', path: '/' }, paths: ['a'] }],
  });
  const clients = [createRedisClient(redis.url), createRedisClient(redis.url)];
  await Promise.all(clients.map((c) => new Promise((r) => c.once('ready', r))));
  const stores = clients.map((c) => new RedisHealthStore(c));
  const applied: ((at: number) => void)[] = [];
  const gateways = stores.map(
    (healthStore, i) =>
      new Gateway({
        policy,
        policyHash: 'bench',
        healthStore,
        instanceId: `bench-${i}`,
        transportFactory: (path) => createUndiciTransport(path),
        breakerFactory: (config) => new OpossumBreaker(config),
        onTransition: (_path, t) => {
          if (i === 1 && t.reason.startsWith('peer ')) applied.shift()?.(performance.now());
        },
      }),
  );
  await sleep(300); // subscriptions up
  const samples: number[] = [];
  const until = Date.now() + 20_000;
  for (let n = 0; n < 400 && Date.now() < until; n++) {
    const seen = new Promise<number>((resolve) => applied.push(resolve));
    const started = performance.now();
    const breaker = gateways[0]!.path('a')!.breaker;
    if (n % 2 === 0) breaker.trip('bench');
    else breaker.reset('bench');
    const at = await Promise.race([seen, sleep(1_000).then(() => NaN)]);
    if (Number.isNaN(at)) applied.length = 0;
    else samples.push(at - started);
  }
  console.log(
    `trip/recovery propagation between instances (target p99 <= 25 ms): ${quantiles(samples)}`,
  );
  await Promise.all(gateways.map((g) => g.close()));
  stores.forEach((s) => s.dispose());
  clients.forEach((c) => c.disconnect());
  await redis.stop();
}

async function paymentsAfterCut(): Promise<void> {
  const rig = await DetectionRig.start(['a', 'b']);
  try {
    // Defaults except the resetTimeout (so the path stays open for the measurement); probes at the default 1 s.
    const gateway = await rig.gateway(rig.policy({ probe: {}, breaker: {} }));
    let cutAt = Infinity;
    const met: { startedAt: number }[] = [];
    let total = 0;
    let failed = 0;
    let stop = false;
    const worker = async () => {
      const until = Date.now() + 15_000;
      for (let i = 0; i < 3_000 && !stop && Date.now() < until; i++) {
        const startedAt = Date.now();
        const answer = await pay(gateway);
        total++;
        if (answer.status !== 201) failed++;
        if (startedAt >= cutAt - 50 && (answer.attempts > 1 || answer.path === 'a'))
          met.push({ startedAt });
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await sleep(1_000);
    cutAt = Date.now();
    await rig.carrier('a').setMode({ mode: 'blackhole' });
    await sleep(3_000);
    stop = true;
    await Promise.all(workers);
    const tripped = gateway.gateway
      .status()
      .paths.find((p) => p.id === 'a')!
      .transitions.find((t) => t.to === 'open' && t.at >= cutAt);
    const detectedAt = tripped?.at ?? Infinity;
    const before = met.filter((m) => m.startedAt < detectedAt).length;
    console.log(
      `payments after a cut (probes every 1 s, timeout 500 ms): ${total} payments, ${failed} failed; ` +
        `detected ${tripped ? `${detectedAt - cutAt} ms after the cut by "${tripped.reason}"` : 'never'}; ` +
        `${met.length} met the dead path: ${before} started before detection, ${met.length - before} after (target 0 after)`,
    );
    console.log(`  duplicate charges: ${rig.processor.duplicateCharges}`);
  } finally {
    await rig.stop();
  }
}

async function hedgingLatency(): Promise<void> {
  const hedgeConnectMs = 50;
  const rig = await DetectionRig.start(['b']);
  const listener = await UnacceptedListener.start();
  try {
    const base = rig.policy();
    const hedged = await rig.gateway({
      ...base,
      // a's connects must outlive the measurement: once they time out, a opens and payments stop hedging at all.
      paths: [
        { id: 'a', upstream: listener.url, grade: 'warm', connectTimeoutMs: 60_000 },
        ...base.paths,
      ],
      routes: base.routes.map((r) => ({ ...r, paths: ['a', 'b'], hedgeConnectMs })),
    });
    const direct = await rig.gateway(base);
    const timed = async (gateway: typeof hedged) => {
      const started = performance.now();
      await pay(gateway);
      return performance.now() - started;
    };
    for (let i = 0; i < 20; i++) await timed(direct);
    // Interleaved, so both series see the same machine: each hedged payment is paired with the
    // direct payment just before it, and the added latency is their difference.
    const baseline: number[] = [];
    const withHedge: number[] = [];
    // 600 pairs, so the p99 is not decided by two or three samples.
    const until = Date.now() + 60_000;
    for (let i = 0; i < 600 && Date.now() < until; i++) {
      baseline.push(await timed(direct));
      withHedge.push(await timed(hedged));
    }
    console.log(`hedging, first path's connects hang (hedgeConnectMs ${hedgeConnectMs}):`);
    console.log(`  direct on b:       ${quantiles(baseline)}`);
    console.log(`  hedged a -> b:     ${quantiles(withHedge)}`);
    const p99 = (samples: number[]) =>
      [...samples].sort((a, b) => a - b)[Math.floor(0.99 * samples.length)]!;
    console.log(
      `  p99 added over direct (hedged p99 minus direct p99, as in the overhead table): ${(p99(withHedge) - p99(baseline)).toFixed(2)} ms (target <= ${hedgeConnectMs + 5} ms)`,
    );
    console.log(
      `  per pair (hedged minus the direct payment before it; each side's own noise adds up): ${quantiles(withHedge.map((s, i) => s - baseline[i]!))}`,
    );
  } finally {
    await rig.stop();
    await listener.stop();
  }
}

// `node bench/detection.ts hedging` runs one part; no argument runs all three.
const parts = {
  propagation: tripPropagation,
  'after-cut': paymentsAfterCut,
  hedging: hedgingLatency,
};
const chosen = process.argv.slice(2);
for (const [name, run] of Object.entries(parts))
  if (chosen.length === 0 || chosen.includes(name)) await run();
