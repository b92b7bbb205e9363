// The load generator of the store-box drills (bench/storebox.ts), run inside the store's network
// namespace so its latencies are the gateway's and the kernel's, nothing else. Open loop (see
// open-loop.ts) at RATE payments/s for the phases given in ms. At the start of every phase after the
// first it prints {"phase": i} and goes on sending; the driver makes the fault in the kernel and
// answers "ok i" on stdin; the phase is counted from that moment. At the end it prints
// {"samples": [...], "phaseStarts": [...]} and exits. It also exits when its stdin closes.
// Usage: node storebox-load.ts URL RATE PREFIX PHASE_MS[,PHASE_MS…]
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { openLoop } from './open-loop.ts';

const [url, rateText, prefix, phasesText] = process.argv.slice(2);
if (!url || !rateText || !prefix || !phasesText) {
  console.error('usage: storebox-load.ts URL RATE PREFIX PHASE_MS[,PHASE_MS…]');
  process.exit(2);
}
const phases = phasesText.split(',').map(Number);
const acknowledged = new Map<number, () => void>();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const match = /^ok (\d+)$/.exec(line.trim());
  if (match) acknowledged.get(Number(match[1]))?.();
});
lines.on('close', () => process.exit(1));

let start = 0;
const phaseStarts = [0];
let at = 0;
const events = phases.slice(1).map((_, k) => {
  const i = k + 1;
  at += phases[k]!;
  return {
    atMs: at,
    run: () =>
      new Promise<void>((resolve) => {
        acknowledged.set(i, () => {
          phaseStarts[i] = performance.now() - start;
          resolve();
        });
        console.log(JSON.stringify({ phase: i }));
      }),
  };
});
const total = phases.reduce((a, b) => a + b, 0);
start = performance.now();
const samples = await openLoop({
  url,
  rate: Number(rateText),
  durationMs: total,
  referencePrefix: prefix,
  withKeys: true,
  events,
});
// Exit only once the pipe has taken it all: process.exit() right after a large write to a pipe cuts it short.
process.stdout.write(`${JSON.stringify({ samples, phaseStarts })}\n`, () => process.exit(0));
