// `node bench/storebox.ts` (root; part of `npm run bench`): the outage drills on a store box built
// from network namespaces (test/support/netns-bed.ts), with the faults made in the kernel, not by a
// proxy: carrier 1 blackholed, reset, unreachable, link down, 30 % packet loss. paypath, HAProxy
// and nginx each run in the store's namespace, each configured per carrier (`bind`, `source`,
// `proxy_bind`) over the same per-carrier routing tables, one after the other in one run, under
// the same open-loop load (bench/storebox-load.ts, inside the store namespace). Writes
// bench/results/storebox.md (the section BENCHMARKS.md shows), bench/results/storebox.json, and
// replaces that section in BENCHMARKS.md. Without root it says why and exits 0.
// BENCH_QUICK=1: shorter phases. BENCH_STOREBOX_TARGETS=paypath,haproxy: only those gateways;
// BENCH_STOREBOX_FAULTS=reset,blackhole: only those faults. With either, the tables are printed
// and nothing is written (for working on failover); `paypath-no-degrade` (paypath without the
// degraded mark of lossy paths) runs only when named there. BENCH_STOREBOX_NICE=-5: run this script and
// everything it starts (gateways, processor, load) at that niceness, inherited by every child, so
// that on a shared machine they are served before other work (a store box runs nothing else).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fmt, phaseRow, samplesIn, type PhaseRow, type Sample } from './open-loop.ts';
import { haproxyConfig, nginxConfig, type Upstream } from './peers.ts';
import {
  bedSupport,
  NetnsBed,
  PROCESSOR_PORT,
  type BedFault,
  type BedPortal,
  type BedProcess,
} from '../test/support/netns-bed.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const RESULTS = join(ROOT, 'bench/results');
const QUICK = process.env.BENCH_QUICK === '1';
const RATE = 200;
const P = QUICK ? 0.5 : 1;
/** warm-up (not counted), steady, fault, restored. */
const PHASES = [
  Number(process.env.BENCH_STOREBOX_WARMUP_MS ?? 5_000),
  2_000 * P,
  3_000 * P,
  2_000 * P,
];
const PHASE_NAMES = ['warm-up', 'steady', 'fault', 'restored'];
const FAULTS: [string, BedFault][] = [
  ['blackhole', 'blackhole'],
  ['reset', 'reset'],
  ['unreachable', 'unreachable'],
  ['link down', 'link-down'],
  ['30% loss', { loss: 30 }],
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * BENCH_STOREBOX_PAYPATH_POLICY='{"adaptiveTimeout":{"floorMs":300}}': top-level policy settings added
 * to paypath's (e.g. to reproduce an attempt timeout inflated by a starved steady phase).
 */
const paypathExtra = JSON.parse(process.env.BENCH_STOREBOX_PAYPATH_POLICY ?? '{}') as Record<
  string,
  unknown
>;
const NICE =
  process.env.BENCH_STOREBOX_NICE === undefined ? 0 : Number(process.env.BENCH_STOREBOX_NICE);
if (NICE !== 0) setPriority(0, NICE);

const support = bedSupport();
if (!support.ok) {
  console.log(`store-box drills skipped: ${support.reason}`);
  process.exit(0);
}

interface Gateway {
  name: string;
  port: number;
  start(): Promise<BedProcess>;
}

interface CarrierPhaseRow extends PhaseRow {
  /** Charges per carrier (1, 2, 3) of this phase's payments, from the processor's source addresses. */
  byCarrier: number[];
}

interface DrillResult {
  gateway: string;
  fault: string;
  /** The machine's 1-minute load average when the drill began (2 cores; others' work included). */
  load: number;
  phases: CarrierPhaseRow[];
}

const bed = await NetnsBed.create({ dns: false });
const dir = join(bed.dir, 'peers');
mkdirSync(dir, { recursive: true });
try {
  await bed.addPerCarrierRouting();
  await bed.startProcessor();
  const upstreams: Upstream[] = bed.carriers.map((c) => ({
    id: c.pathId,
    host: bed.processorAddress,
    port: PROCESSOR_PORT,
    source: c.storeAddress,
  }));
  const portals = new Map<number, BedPortal>();
  const waitReady = async (port: number, child: BedProcess) => {
    if (!portals.has(port)) portals.set(port, await bed.portal('store', '127.0.0.1', port));
    const portal = portals.get(port)!;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await portal.fetch('/health', { signal: AbortSignal.timeout(1_000) }).then(
        async (r) => (await r.text(), true),
        () => false,
      );
      if (ok) return;
      if (!child.running || Date.now() > deadline)
        throw new Error(`${child.name} not answering:\n${child.output}`);
      await sleep(100);
    }
  };
  const peerFile = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  const gateways: Gateway[] = [
    {
      name: 'paypath',
      port: 8787,
      // What ops teams run: paths (with each carrier's address), the payments route, the key header.
      start: () => bed.startGateway(bed.policyYaml({ extra: paypathExtra })),
    },
    {
      // Only when named in BENCH_STOREBOX_TARGETS: the same policy without the degraded mark, as before it.
      name: 'paypath-no-degrade',
      port: 8787,
      start: () =>
        bed.startGateway(
          bed.policyYaml({ extra: { ...paypathExtra, degradation: { enabled: false } } }),
        ),
    },
    {
      name: 'haproxy',
      port: 8790,
      start: async () => {
        const file = peerFile('haproxy.cfg', haproxyConfig(dir, 8790, upstreams));
        const child = bed.spawn('store', ['haproxy', '-f', file, '-db'], { name: 'haproxy' });
        await waitReady(8790, child);
        await sleep(1_200); // first health checks pass (rise 2 at inter 500)
        return child;
      },
    },
    ...(['nginx', 'nginx-non-idempotent'] as const).map((variant, k) => ({
      name: variant,
      port: 8800 + 10 * k,
      start: async () => {
        const sub = join(dir, variant);
        mkdirSync(sub, { recursive: true });
        const file = peerFile(
          `${variant}.conf`,
          nginxConfig(sub, 8800 + 10 * k, upstreams, variant === 'nginx-non-idempotent'),
        );
        const child = bed.spawn('store', ['nginx', '-c', file, '-p', sub], { name: variant });
        await waitReady(8800 + 10 * k, child);
        return child;
      },
    })),
  ];
  const only = process.env.BENCH_STOREBOX_TARGETS?.split(',');
  const chosen = only
    ? gateways.filter((g) => only.includes(g.name))
    : gateways.filter((g) => g.name !== 'paypath-no-degrade');

  const onlyFaults = process.env.BENCH_STOREBOX_FAULTS?.split(',');
  const faults = onlyFaults
    ? FAULTS.filter(([name]) => onlyFaults.some((f) => name.startsWith(f)))
    : FAULTS;
  const drills: DrillResult[] = [];
  // Rotating order: on a shared machine, whatever else runs should not always land on one gateway.
  // BENCH_STOREBOX_REPEAT=3: each drill that many times (with a subset only), each gateway's turn rotating.
  const repeat = only || onlyFaults ? Number(process.env.BENCH_STOREBOX_REPEAT ?? 1) : 1;
  for (let r = 0; r < repeat; r++) {
    for (const [k, [faultName, fault]] of faults.entries()) {
      for (let i = 0; i < chosen.length; i++)
        drills.push(await drill(chosen[(i + k + r) % chosen.length]!, faultName, fault));
    }
  }
  const section = report(
    drills,
    chosen.map((g) => g.name),
  );
  if (only || onlyFaults) {
    console.log(section);
    process.exitCode = 0;
  } else {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(
      join(RESULTS, 'storebox.json'),
      JSON.stringify(
        { at: new Date().toISOString(), rate: RATE, phasesMs: PHASES, drills },
        null,
        2,
      ),
    );
    writeFileSync(join(RESULTS, 'storebox.md'), section);
    spliceIntoBenchmarks(section);
    console.log(
      'wrote bench/results/storebox.md, storebox.json and the store-box section of BENCHMARKS.md',
    );
  }
} finally {
  await bed.destroy();
}

async function drill(gateway: Gateway, faultName: string, fault: BedFault): Promise<DrillResult> {
  await bed.resetLedger();
  const load = loadavg()[0]!;
  const child = await gateway.start();
  const prefix = `${gateway.name}-${faultName.replaceAll(/\W/g, '_')}`;
  const loader = bed.node(
    'store',
    join(ROOT, 'bench/storebox-load.ts'),
    [`http://127.0.0.1:${gateway.port}`, String(RATE), prefix, PHASES.join(',')],
    { name: 'load' },
  );
  const lines = createInterface({ input: loader.child.stdout! });
  let result: { samples: Sample[]; phaseStarts: number[] } | undefined;
  for await (const line of lines) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line) as {
      phase?: number;
      samples?: Sample[];
      phaseStarts?: number[];
    };
    if (message.phase !== undefined) {
      if (PHASE_NAMES[message.phase] === 'fault') await bed.fault(1, fault);
      if (PHASE_NAMES[message.phase] === 'restored') await bed.up(1);
      loader.child.stdin!.write(`ok ${message.phase}\n`);
    } else if (message.samples) {
      result = { samples: message.samples, phaseStarts: message.phaseStarts! };
      break;
    }
  }
  await loader.exited;
  await bed.up();
  if (!result) throw new Error(`load generator gave no result:\n${loader.output}`);
  await sleep(1_500); // frozen connections deliver what they held: late duplicates show up now
  const ledger = await bed.ledger();
  await (gateway.name.startsWith('paypath') ? bed.stopGateway() : child.stop());

  const { samples, phaseStarts } = result;
  if (process.env.BENCH_SAMPLES)
    writeFileSync(`${process.env.BENCH_SAMPLES}-${prefix}.json`, JSON.stringify(result));
  const carrierOf = new Map(bed.carriers.map((c) => [c.storeAddress, c.n - 1]));
  const phases = PHASE_NAMES.map((name, i): CarrierPhaseRow => {
    const from = phaseStarts[i]!;
    const inPhase = samplesIn(samples, from, phaseStarts[i + 1] ?? Infinity);
    const byCarrier = [0, 0, 0];
    for (const s of inPhase)
      for (const source of ledger.sourcesByReference[s.reference] ?? [])
        byCarrier[carrierOf.get(source) ?? 0]!++;
    return { ...phaseRow(name, inPhase, from, ledger.byReference, name === 'fault'), byCarrier };
  });
  const f = phases[2]!;
  console.log(
    `store box ${faultName} ${gateway.name}: fault phase failed ${f.failed}, dup ${f.duplicates}, p99 ${fmt(f.p99, 1)} ms, max ${fmt(f.max)} ms`,
  );
  return { gateway: gateway.name, fault: faultName, load, phases: phases.slice(1) };
}

function report(drills: DrillResult[], gatewayNames: string[]): string {
  const lines: string[] = [];
  lines.push(
    '## Store box on network namespaces: kernel faults',
    '',
    `Produced by \`node bench/storebox.ts\` (part of \`npm run bench\`; needs root), ${new Date().toISOString()}. A store namespace with three uplinks (10.201.N.2) to three carrier namespaces and the processor behind them, built by \`test/support/netns-bed.ts\`, with per-carrier routing tables (\`ip rule from 10.201.N.2 table 10N\`, a default route per table). Carrier 1 fails in the kernel (nftables in its namespace; link down: its end of the link set down), not in a proxy. Each gateway runs in the store namespace, one after the other, configured per carrier: paypath with \`bind\` per path (the policy of \`NetnsBed.policyYaml()\`: paths, the payments route, the key header; every other setting a default), HAProxy with \`source\` per server, nginx with \`proxy_bind\` per carrier (one inner server per carrier, as nginx binds one address per request; \`bench/peers.ts\`). ${NICE !== 0 ? `Everything measured (gateways, processor, load generator) ran at niceness ${NICE} (\`BENCH_STOREBOX_NICE\`), ahead of the other work on this shared machine, as on a store box that runs nothing else. ` : ''}Load: open loop at ${RATE} payments/s with idempotency keys from inside the store namespace (\`bench/storebox-load.ts\`), after ${PHASES[0]! / 1000} s of warm-up (not counted; each gateway is started afresh for each drill): ${PHASES[1]! / 1000} s steady, ${PHASES[2]! / 1000} s with the fault, ${PHASES[3]! / 1000} s restored. "stalled": took ≥ 1 s; "dup": charged more than once (ledger, 1.5 s after the run); "unknown": failed at the client but charged; "first ok": ms from the fault to the first success; "carriers": charges of the phase's payments by carrier 1/2/3, from the source address the processor saw; "load": the machine's 1-minute load average as the drill began (2 cores, shared: above 2, every process waits for a core, and latencies say more about the machine than about the gateway).`,
    '',
    '| fault | phase | gateway | sent | failed | stalled | dup | unknown | p50 ms | p99 ms | max ms | first ok ms | carriers 1/2/3 | load |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const [faultName] of FAULTS) {
    for (const phase of ['steady', 'fault', 'restored']) {
      for (const name of gatewayNames) {
        for (const run of drills.filter((d) => d.fault === faultName && d.gateway === name)) {
          const p = run.phases.find((row) => row.phase === phase);
          if (!p) continue;
          lines.push(
            `| ${faultName} | ${phase} | ${name} | ${p.sent} | ${p.failed} | ${p.stalled} | ${p.duplicates} | ${p.unknown} | ${fmt(p.p50, 1)} | ${fmt(p.p99, 1)} | ${fmt(p.max)} | ${fmt(p.firstSuccessMs)} | ${p.byCarrier.join('/')} | ${run.load.toFixed(1)} |`,
          );
        }
      }
    }
  }
  lines.push(
    '',
    `Targets, fault phase at ${RATE}/s: 0 failed, 0 charged twice, p99 ≤ 100 ms, no checkout ≥ 1 s.`,
    '',
  );
  lines.push(
    "The steady phase's p99 (no fault yet) says whether the machine let the gateway keep up at all during that drill: where it is far above 100 ms, the fault phase measured the machine too.",
    '',
    '| fault | gateway | failed | dup | p99 ms | stalled | all four met | steady-phase p99 ms | load |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const [faultName] of FAULTS) {
    for (const name of gatewayNames) {
      for (const run of drills.filter((d) => d.fault === faultName && d.gateway === name)) {
        const p = run.phases.find((row) => row.phase === 'fault');
        const steady = run.phases.find((row) => row.phase === 'steady');
        if (!p || !steady) continue;
        const met = p.failed === 0 && p.duplicates === 0 && p.p99 <= 100 && p.stalled === 0;
        lines.push(
          `| ${faultName} | ${name} | ${p.failed} | ${p.duplicates} | ${fmt(p.p99, 1)} | ${p.stalled} | ${met ? 'yes' : 'no'} | ${fmt(steady.p99, 1)} | ${run.load.toFixed(1)} |`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces the store-box section of BENCHMARKS.md (between its markers), or adds it before the targets. */
function spliceIntoBenchmarks(section: string): void {
  const file = join(ROOT, 'BENCHMARKS.md');
  const begin = '<!-- storebox:begin -->';
  const end = '<!-- storebox:end -->';
  let notes = '';
  try {
    notes = `\n${readFileSync(join(ROOT, 'bench/storebox-notes.md'), 'utf8')}`;
  } catch {
    // not written yet
  }
  const block = `${begin}\n${section}${notes}${end}\n`;
  let text = readFileSync(file, 'utf8');
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + block + text.slice(to + end.length + 1);
  else {
    const targets = text.indexOf('\n## Where paypath stands');
    text =
      targets >= 0
        ? `${text.slice(0, targets + 1)}${block}\n${text.slice(targets + 1)}`
        : `${text}\n${block}`;
  }
  writeFileSync(file, text);
}
