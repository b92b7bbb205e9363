// `node bench/policy-parse.ts`: how long a policy document takes to parse and validate, for the
// hostile shapes the document limits exist for (docs/ops.md, "Policy document limits"), beside the
// yaml library's own duplicate-key check (`uniqueKeys: true`, which paypath does not use: it compares
// each key with every earlier one). Not a test: it prints numbers and asserts nothing. Every loop
// is bounded (3 runs per shape, best kept); the library's check is measured up to 20 000 keys only.
import { parseDocument } from 'yaml';
import { parsePolicy, POLICY_LIMITS } from '../src/core/policy/parse.ts';

const plainKeys = (count: number) =>
  Array.from({ length: count }, (_, i) => `k${i}: ${i}`).join('\n');

function best(run: () => unknown): number {
  let fastest = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return fastest;
}

const shapes: { name: string; text: string; library: boolean }[] = [
  { name: '5 000 plain keys', text: plainKeys(5_000), library: true },
  {
    name: `${POLICY_LIMITS.maxNodes / 2 - 10} plain keys (the most the node limit lets through)`,
    text: plainKeys(POLICY_LIMITS.maxNodes / 2 - 10),
    library: false,
  },
  { name: '20 000 plain keys', text: plainKeys(20_000), library: true },
  { name: '60 000 plain keys (0.8 MB)', text: plainKeys(60_000), library: false },
  {
    name: '50 000 nested flow lists',
    text: `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
    library: false,
  },
  { name: '50 000 nested complex keys', text: `${'? '.repeat(50_000)}x`, library: false },
];

console.log('shape | parsePolicy ms (best of 3) | answer | yaml uniqueKeys:true parse ms');
for (const shape of shapes) {
  let answer = '';
  const ms = best(() => {
    const result = parsePolicy(shape.text);
    answer = result.ok
      ? 'valid'
      : result.limit
        ? `limit ${result.limit.name}`
        : `${result.issues.length} issues`;
  });
  const library = shape.library
    ? best(() => parseDocument(shape.text, { uniqueKeys: true, logLevel: 'error' })).toFixed(0)
    : '-';
  console.log(`${shape.name} | ${ms.toFixed(0)} | ${answer} | ${library}`);
}
