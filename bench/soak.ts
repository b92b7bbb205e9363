// Slow-reader and slow-sender soak, on loopback: a `paypath serve` process under clients that
// trickle their requests, send large bodies and stall, or ask for large answers and read them
// slowly, while payments go on beside them. Reports the gateway's RSS (VmRSS of /proc/PID/status)
// and the payments' outcomes; fails (exit 1) when RSS passes the ceiling or a payment fails.
//
//   node bench/soak.ts                 (2 minutes; part of `npm run bench`)
//   SOAK_SECONDS=30 node bench/soak.ts (shorter; SOAK_ABUSERS=0: payments alone, for comparison)
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { quantile } from './open-loop.ts';
import { BulkProcessor, bulkPolicy } from '../test/support/bulk-processor.ts';
import { startServeChild } from '../test/support/serve-child.ts';

/**
 * The ceiling RSS must stay under, in MiB: the process at rest (130-150 MiB here), the default
 * 64 MiB body budget, up to 1 MiB read ahead of each slow reader's answer (50), and room for the
 * connections' buffers and the garbage collector's slack. Before the limits, the greedy senders
 * alone took 100 MiB past the rest, and each 8 MiB answer was held whole (twice) to be stored.
 */
export const SOAK_RSS_CEILING_MIB = 384;

const SECONDS = Math.min(120, Number(process.env.SOAK_SECONDS ?? 120));
const MiB = 1024 * 1024;
// SOAK_ABUSERS=0: payments alone, the baseline to compare with.
const ABUSE = process.env.SOAK_ABUSERS === '0' ? 0 : 1;
const only = process.env.SOAK_ONLY;
const SLOW_SENDERS = (only && only !== 'slow' ? 0 : 200) * ABUSE; // trickle headers and body, a few bytes every 500 ms
const GREEDY_SENDERS = (only && only !== 'greedy' ? 0 : 100) * ABUSE; // send 1 MiB of a body at once, then stall (1 s apart after a 503)
const SLOW_READERS = (only && only !== 'reader' ? 0 : 50) * ABUSE; // ask for an 8 MiB answer, read 16 KiB every 500 ms
const PAYMENT_RATE = 50; // per second, each with its own key

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const processor = await new BulkProcessor().start();
const gateway = await startServeChild(
  bulkPolicy(processor.url, '', { deadlineMs: 30_000, attemptTimeoutMs: 10_000 }),
);
const { hostname, port } = new URL(gateway.url);
const end = Date.now() + SECONDS * 1_000;
const live = new Set<Socket>();
const counts = {
  slowSenderConnections: 0,
  slowSendersCut408: 0,
  greedyConnections: 0,
  greedyCut408: 0,
  greedyRefused503: 0,
  slowReaderConnections: 0,
  slowReaderBytes: 0,
};

/** One client connection at a time per loop, opened again when the gateway closes it, until the end. */
async function loop(run: () => Promise<void>): Promise<void> {
  while (Date.now() < end) await run().catch(() => {});
}

function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect(Number(port), hostname);
  live.add(socket);
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    if (received.length < 512) received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => (live.delete(socket), resolve())),
  );
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, received: () => received, closed }));
    socket.once('error', reject);
  });
}

const untilEnd = () => sleep(Math.max(0, end - Date.now()));

async function slowSender(): Promise<void> {
  const { socket, received, closed } = await open();
  counts.slowSenderConnections++;
  const request = `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nIdempotency-Key: slow-${crypto.randomUUID()}\r\nContent-Length: 100000\r\n\r\n${'{"amount":1,"pad":"'.padEnd(100_000 - 2, 'p')}"}`;
  let open_ = true;
  void closed.then(() => (open_ = false));
  for (let at = 0; open_ && at < request.length && Date.now() < end; at += 8) {
    socket.write(request.slice(at, at + 8));
    await sleep(500);
  }
  socket.destroy();
  await closed;
  if (received().startsWith('HTTP/1.1 408')) counts.slowSendersCut408++;
}

const greedyBody = Buffer.alloc(MiB - 1, 'g');
async function greedySender(): Promise<void> {
  const { socket, received, closed } = await open();
  counts.greedyConnections++;
  socket.write(
    `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nIdempotency-Key: greedy-${crypto.randomUUID()}\r\nContent-Length: ${MiB}\r\n\r\n`,
  );
  socket.write(greedyBody);
  await Promise.race([closed, untilEnd()]);
  socket.destroy();
  if (received().startsWith('HTTP/1.1 408')) counts.greedyCut408++;
  // Refused: back off for the Retry-After it was given (1 s), as a well-behaved client would.
  if (received().startsWith('HTTP/1.1 503')) {
    counts.greedyRefused503++;
    await sleep(1_000);
  }
}

async function slowReader(): Promise<void> {
  const { socket, closed } = await open();
  counts.slowReaderConnections++;
  const body = JSON.stringify({ amount: 1, answerBytes: 8 * MiB });
  socket.pause();
  socket.write(
    `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nIdempotency-Key: reader-${crypto.randomUUID()}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  let done = false;
  void closed.then(() => (done = true));
  while (!done && Date.now() < end) {
    const chunk = socket.read(16 * 1024) as Buffer | null;
    if (chunk) counts.slowReaderBytes += chunk.byteLength;
    await sleep(500);
  }
  socket.destroy();
  await closed;
}

/** Payments at a steady rate, each with its own key; latency and status of each. */
async function payments(): Promise<{ status: number; ms: number; at: number }[]> {
  const results: Promise<{ status: number; ms: number; at: number }>[] = [];
  const started = Date.now();
  for (let i = 0; Date.now() < end; i++) {
    const due = started + (i * 1_000) / PAYMENT_RATE;
    if (due > Date.now()) await sleep(due - Date.now());
    const at = performance.now();
    results.push(
      fetch(`${gateway.url}/v1/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `pay-${i}` },
        body: JSON.stringify({ amount: 4500, reference: `soak-${i}` }),
        signal: AbortSignal.timeout(30_000),
      }).then(
        async (response) => {
          await response.arrayBuffer();
          return { status: response.status, ms: performance.now() - at, at: due - started };
        },
        () => ({ status: 0, ms: performance.now() - at, at: due - started }),
      ),
    );
  }
  return Promise.all(results);
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const cpuTicks = () =>
  readFileSync(`/proc/${gateway.pid}/stat`, 'utf8')
    .split(') ')[1]!
    .split(' ')
    .slice(11, 13)
    .reduce((a, b) => a + Number(b), 0);
const ticksBefore = cpuTicks();
const rssAtRest = gateway.rssBytes() / MiB;
let rssPeak = rssAtRest;
const samples: { s: number; rssMib: number; heldMib: number; waiting: number }[] = [];
const startedAt = Date.now();
const sampler = setInterval(() => {
  const rss = gateway.rssBytes() / MiB;
  rssPeak = Math.max(rssPeak, rss);
  gateway.json('/status').then(
    (status) => {
      const bodies = status.requestBodies as { heldBytes: number; waiting: number };
      samples.push({
        s: Math.round((Date.now() - startedAt) / 1_000),
        rssMib: Math.round(rss),
        heldMib: Math.round(bodies.heldBytes / MiB),
        waiting: bodies.waiting,
      });
    },
    () => {},
  );
}, 1_000);

console.log(`gateway ${gateway.url}, processor ${processor.url}`);
console.log(
  `soak: ${SECONDS} s; ${SLOW_SENDERS} slow senders, ${GREEDY_SENDERS} greedy senders, ${SLOW_READERS} slow readers, payments at ${PAYMENT_RATE}/s; RSS at rest ${rssAtRest.toFixed(0)} MiB`,
);
const clients = [
  ...Array.from({ length: SLOW_SENDERS }, () => loop(slowSender)),
  ...Array.from({ length: GREEDY_SENDERS }, () => loop(greedySender)),
  ...Array.from({ length: SLOW_READERS }, () => loop(slowReader)),
];
const paid = await payments();
await Promise.all(clients);
clearInterval(sampler);
for (const socket of live) socket.destroy();
const rssEnd = gateway.rssBytes() / MiB;
const gatewayCpuSeconds = (cpuTicks() - ticksBefore) / 100;
loopDelay.disable();
await gateway.stop();
await processor.stop();

const ok = paid.filter((p) => p.status === 201);
const latencies = ok.map((p) => p.ms);
const result = {
  seconds: SECONDS,
  rssCeilingMib: SOAK_RSS_CEILING_MIB,
  rssAtRestMib: Math.round(rssAtRest),
  rssPeakMib: Math.round(rssPeak),
  rssEndMib: Math.round(rssEnd),
  payments: {
    sent: paid.length,
    ok: ok.length,
    failed: paid.length - ok.length,
    p50Ms: Math.round(quantile(latencies, 0.5) * 10) / 10,
    p99Ms: Math.round(quantile(latencies, 0.99) * 10) / 10,
  },
  counts,
  gatewayCpuSeconds,
  /** This process's own event-loop delay (clients and processor): large values mean the client, not the gateway, was late. */
  clientLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e5) / 10,
  /** Payments by the 10 s window they were sent in. */
  byWindow: Array.from({ length: Math.ceil(SECONDS / 10) }, (_, w) => {
    const sent = paid.filter((p) => Math.floor(p.at / 10_000) === w);
    const fine = sent.filter((p) => p.status === 201).map((p) => p.ms);
    return {
      fromS: w * 10,
      sent: sent.length,
      ok: fine.length,
      p50Ms: Math.round(quantile(fine, 0.5)),
      p99Ms: Math.round(quantile(fine, 0.99)),
    };
  }),
  statuses: Object.fromEntries(
    [...new Set(paid.map((p) => p.status))].map((s) => [
      s,
      paid.filter((p) => p.status === s).length,
    ]),
  ),
  samples,
};
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', 'soak.json'),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
const passed = rssPeak < SOAK_RSS_CEILING_MIB && ok.length === paid.length;
// Only the standard run goes into BENCHMARKS.md (not a shortened or partial one).
if (!process.env.SOAK_SECONDS && !process.env.SOAK_ONLY && !process.env.SOAK_ABUSERS)
  writeSection(result, passed);
console.log(
  passed
    ? 'soak: passed'
    : `soak: FAILED (peak RSS ${rssPeak.toFixed(0)} MiB, ceiling ${SOAK_RSS_CEILING_MIB}; ${paid.length - ok.length} payments failed)`,
);
process.exitCode = passed ? 0 : 1;

/** Puts this run's section into BENCHMARKS.md, in place of the previous one (run.ts writes the rest). */
function writeSection(r: typeof result, passedRun: boolean): void {
  const file = join(import.meta.dirname, '..', 'BENCHMARKS.md');
  const heading = '## Slow clients soak';
  const lines = [
    heading,
    '',
    `\`node bench/soak.ts\` (part of \`npm run bench\`), ${new Date().toISOString()}, Node ${process.version}, on loopback on the shared machine. For ${r.seconds} s, a \`paypath serve\` process (default limits: 64 MiB body budget, 10 s request timeout, 1 MiB answers kept) takes ${SLOW_SENDERS} slow senders (8 bytes every 500 ms, reconnecting when cut), ${GREEDY_SENDERS} greedy senders (1 MiB of a declared 1 MiB body, then nothing; 1 s pause after a 503) and ${SLOW_READERS} slow readers (an 8 MiB answer read 16 KiB every 500 ms), while payments with keys go through it at ${PAYMENT_RATE}/s. RSS is the process's VmRSS, sampled every second; the ceiling is ${r.rssCeilingMib} MiB (\`SOAK_RSS_CEILING_MIB\`). ${passedRun ? 'Passed.' : '**Failed.**'}`,
    '',
    '| RSS at rest MiB | peak MiB | at the end MiB | ceiling MiB | payments sent | ok | failed | p50 ms | p99 ms | gateway CPU s | client loop delay p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    `| ${r.rssAtRestMib} | ${r.rssPeakMib} | ${r.rssEndMib} | ${r.rssCeilingMib} | ${r.payments.sent} | ${r.payments.ok} | ${r.payments.failed} | ${r.payments.p50Ms} | ${r.payments.p99Ms} | ${r.gatewayCpuSeconds.toFixed(1)} | ${r.clientLoopDelayP99Ms} |`,
    '',
    `Payments by 10 s window (p50 / p99 ms): ${r.byWindow.map((w) => `${w.fromS}s ${w.ok}/${w.sent} ${w.p50Ms}/${w.p99Ms}`).join('; ')}.`,
    '',
    `Abusers: slow-sender connections ${r.counts.slowSenderConnections} (${r.counts.slowSendersCut408} cut with 408 request_timeout), greedy connections ${r.counts.greedyConnections} (${r.counts.greedyCut408} cut with 408, ${r.counts.greedyRefused503} refused with 503 body_budget_exhausted), slow-reader connections ${r.counts.slowReaderConnections} (${(r.counts.slowReaderBytes / MiB).toFixed(0)} MiB read).`,
    '',
  ];
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = before.indexOf(`${heading}\n`);
  let kept = before;
  if (start >= 0) {
    const next = before.indexOf('\n## ', start + heading.length);
    kept = before.slice(0, start) + (next >= 0 ? before.slice(next + 1) : '');
  }
  writeFileSync(file, `${kept.trimEnd()}\n\n${lines.join('\n')}`);
}
