// The gateway's own memory under greedy clients and huge processor answers: RSS (VmRSS of
// /proc/PID/status) of a fresh `paypath serve` process per scenario, against a bound the code
// before the limits went far past. Fails (exit 1) when a bound is passed or a scenario's answers
// are wrong. test/memory-bounds.test.ts checks the same limits by the gateway's own accounting.
//
//   node bench/memory-bounds.ts   (about 20 s; part of `npm run bench`)
import { connect, type Socket } from 'node:net';
import { BulkProcessor, bulkPolicy } from '../test/support/bulk-processor.ts';
import { startServeChild, type ServeChild } from '../test/support/serve-child.ts';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const processor = await new BulkProcessor().start();
const children: ServeChild[] = [];

async function fresh(limits = ''): Promise<ServeChild> {
  const gateway = await startServeChild(bulkPolicy(processor.url, limits));
  children.push(gateway);
  for (let i = 0; i < 20; i++) await pay(gateway, `warm-${i}`, { amount: 1 });
  return gateway;
}

async function pay(gateway: ServeChild, key: string, body: Record<string, unknown>) {
  const response = await fetch(`${gateway.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  let bytes = 0;
  for await (const chunk of response.body!) bytes += (chunk as Uint8Array).byteLength;
  return {
    status: response.status,
    stored: response.headers.get('x-paypath-answer-stored'),
    bytes,
  };
}

/** Samples RSS growth over `before` every 20 ms while `work` runs, and for `afterMs` after it. */
async function peakGrowth(gateway: ServeChild, work: () => Promise<unknown>, afterMs = 0) {
  const before = gateway.rssBytes();
  let peak = 0;
  const sample = () => (peak = Math.max(peak, gateway.rssBytes() - before));
  const sampler = setInterval(sample, 20);
  await work();
  await sleep(afterMs);
  clearInterval(sampler);
  sample();
  return peak / MiB;
}

/** 400 clients each send 1 MiB of a body and stall (the default 64 MiB budget). */
async function greedyClients(): Promise<{ growthMib: number; besideStatus: number }> {
  const gateway = await fresh('limits: { bodyBudgetWaitMs: 60000, requestTimeoutMs: 120000 }');
  const sockets: Socket[] = [];
  const { port, hostname } = new URL(gateway.url);
  const growthMib = await peakGrowth(
    gateway,
    async () => {
      const body = Buffer.alloc(MiB - 1, 'b');
      const written: Promise<void>[] = [];
      for (let i = 0; i < 400; i++) {
        const socket = connect(Number(port), hostname);
        sockets.push(socket);
        socket.on('error', () => {});
        socket.write(
          `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nIdempotency-Key: greedy-${i}\r\nContent-Length: ${MiB}\r\n\r\n`,
        );
        written.push(new Promise((resolve) => socket.write(body, () => resolve())));
      }
      // Until what the kernel takes has been written (or 5 s: TCP may hold the rest back).
      await Promise.race([Promise.all(written), sleep(5_000)]);
    },
    2_000,
  );
  const beside = await pay(gateway, 'beside-greedy', { amount: 1 });
  for (const socket of sockets) socket.destroy();
  return { growthMib, besideStatus: beside.status };
}

/** Four 64 MiB answers at once, two with content-length and two without. */
async function hugeAnswers(): Promise<{ growthMib: number; answersOk: boolean }> {
  const gateway = await fresh();
  let answers: Awaited<ReturnType<typeof pay>>[] = [];
  const growthMib = await peakGrowth(gateway, async () => {
    answers = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        pay(gateway, `large-${i}`, { amount: 1, answerBytes: 64 * MiB, sized: i % 2 === 0 }),
      ),
    );
  });
  const answersOk = answers.every(
    (a) => a.status === 201 && a.stored === 'false' && a.bytes === 64 * MiB,
  );
  return { growthMib, answersOk };
}

const greedy = await greedyClients();
const huge = await hugeAnswers();
await Promise.all(children.map((c) => c.stop()));
await processor.stop();

const rows = [
  {
    scenario: '400 clients x 1 MiB body, stalled',
    growthMib: Math.round(greedy.growthMib),
    boundMib: 160,
    ok: greedy.besideStatus === 201,
  },
  {
    scenario: 'four 64 MiB answers at once',
    growthMib: Math.round(huge.growthMib),
    boundMib: 128,
    ok: huge.answersOk,
  },
];
console.log('memory bounds (RSS growth of a paypath serve process over its rest):');
for (const row of rows)
  console.log(
    `  ${row.scenario}: +${row.growthMib} MiB (bound ${row.boundMib})${row.ok ? '' : ', answers wrong'}`,
  );
if (rows.some((row) => row.growthMib >= row.boundMib || !row.ok)) process.exit(1);
