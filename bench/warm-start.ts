// `node bench/warm-start.ts [count]`: how fast the first payments are after `paypath serve` starts.
// Starts the bench backend (processor and carriers) and a fresh paypath, warms this client on a
// server of its own (so only the gateway's warm-up shows), then sends `count` sequential payments
// and prints the first 20 latencies and the sum of the first 50. Loopback only; bounded.
// `node bench/warm-start.ts --rate 1000`: instead, two open-loop runs of 2 s at that rate (keyed
// payments) against the fresh gateway, and p50/p99 per 100 ms of each: the first run shows the
// gateway's first second, the second the same load on warm code but new client connections.
// Before them, the same load goes for 1 s straight through each carrier (plain TCP relays), so
// this client's open-loop code, the carriers and the processor are warm and only the gateway is new.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/redis-server.ts';
import { openLoop, quantile, type Sample } from './open-loop.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const rateAt = process.argv.indexOf('--rate');
const rate = rateAt > 0 ? Math.min(Number(process.argv[rateAt + 1]), 5_000) : undefined;
const count = Math.min(Number(rateAt > 0 ? 200 : (process.argv[2] ?? 200)), 5_000);
const [controlPort, processorPort, carrierPort, gatewayPort] = [
  await freePort(),
  await freePort(),
  await freePort(),
  await freePort(),
];
const backend = spawn(
  process.execPath,
  [join(ROOT, 'bench/backend.ts'), String(controlPort), String(processorPort), String(carrierPort)],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
await new Promise((resolve) => backend.stdout!.once('data', resolve));
const dir = mkdtempSync(join(tmpdir(), 'paypath-warm-start-'));
writeFileSync(
  join(dir, 'policy.yaml'),
  `version: 1
paths:
${['a', 'b', 'c'].map((id, i) => `  - { id: ${id}, upstream: "http://127.0.3.${i + 1}:${carrierPort}" }`).join('\n')}
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    class: payment
    paths: [a, b, c]
    idempotency: { header: Idempotency-Key, upstreamHonors: true }
`,
);
const gateway = spawn(
  process.execPath,
  [
    join(ROOT, 'bin/paypath.js'),
    'serve',
    '--policy',
    join(dir, 'policy.yaml'),
    '--port',
    String(gatewayPort),
  ],
  {
    stdio: 'ignore',
    env: { ...process.env, LOG_LEVEL: 'warn' },
  },
);
try {
  const started = performance.now();
  while (
    !(await fetch(`http://127.0.0.1:${gatewayPort}/healthz`).then(
      () => true,
      () => false,
    ))
  ) {
    if (performance.now() - started > 20_000) throw new Error('paypath did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log(`listening after ${(performance.now() - started).toFixed(0)} ms`);

  const own = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
  const ownUrl = `http://127.0.0.1:${(own.address() as { port: number }).port}/`;
  for (let i = 0; i < 300; i++)
    await (
      await fetch(ownUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      })
    ).arrayBuffer();
  own.close();

  if (rate !== undefined) {
    const buckets = (samples: Sample[]) => {
      const by = new Map<number, number[]>();
      for (const s of samples)
        by.set(Math.floor(s.scheduledAt / 100), [
          ...(by.get(Math.floor(s.scheduledAt / 100)) ?? []),
          s.latencyMs,
        ]);
      return [...by]
        .map(
          ([k, v]) => `${k * 100}:${quantile(v, 0.5).toFixed(0)}/${quantile(v, 0.99).toFixed(0)}`,
        )
        .join(' ');
    };
    // The gateway's CPU time (user + system, from /proc), which other load on the machine does not change.
    const cpuMs = () => {
      const fields = readFileSync(`/proc/${gateway.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    };
    for (const host of ['127.0.3.1', '127.0.3.2', '127.0.3.3']) {
      await openLoop({
        url: `http://${host}:${carrierPort}`,
        rate,
        durationMs: 1_000,
        referencePrefix: `warm-backend-${host}-${Date.now()}`,
        withKeys: true,
      });
    }
    for (const run of ['fresh', 'warm']) {
      const cpuBefore = cpuMs();
      const samples = await openLoop({
        url: `http://127.0.0.1:${gatewayPort}`,
        rate,
        durationMs: 2_000,
        referencePrefix: `warm-start-${run}-${Date.now()}`,
        withKeys: true,
      });
      const failed = samples.filter((s) => s.status !== 201).length;
      console.log(
        `${run} at ${rate}/s: gateway CPU ${(cpuMs() - cpuBefore).toFixed(0)} ms, ${failed} failed; ms from start: p50/p99\n${buckets(samples)}`,
      );
    }
  } else {
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const reference = `warm-start-${Date.now()}-${i}`;
      const sent = performance.now();
      const response = await fetch(`http://127.0.0.1:${gatewayPort}/v1/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': reference },
        body: JSON.stringify({ amount: 100, currency: 'KRW', reference }),
      });
      await response.arrayBuffer();
      latencies.push(performance.now() - sent);
    }
    console.log(
      'first 20 (ms):',
      latencies
        .slice(0, 20)
        .map((x) => x.toFixed(1))
        .join(' '),
    );
    const last = latencies.slice(-100).sort((a, b) => a - b);
    console.log(
      `sum of the first 50: ${latencies
        .slice(0, 50)
        .reduce((a, b) => a + b, 0)
        .toFixed(0)} ms; p50 of the last 100: ${last[Math.floor(last.length / 2)]!.toFixed(2)} ms`,
    );
  }
} finally {
  gateway.kill();
  backend.kill();
  rmSync(dir, { recursive: true, force: true });
}
