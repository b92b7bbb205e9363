// `npm run build:worker`: bundles the Worker with wrangler (dry run, minified, nothing deployed) and
// reports its size against the 150 KiB gzip budget.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KIB = 150;
const outdir = 'dist/worker';
rmSync(outdir, { recursive: true, force: true });
execFileSync(
  process.execPath,
  ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '--minify', '--outdir', outdir],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_SEND_ERROR_REPORTS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    },
  },
);
let raw = 0;
let gzip = 0;
for (const file of readdirSync(outdir).filter((f) => f.endsWith('.js'))) {
  const bytes = readFileSync(join(outdir, file));
  raw += bytes.byteLength;
  gzip += gzipSync(bytes, { level: 9 }).byteLength;
}
const kib = (n: number) => (n / 1024).toFixed(1);
console.log(
  `worker bundle: ${kib(raw)} KiB, ${kib(gzip)} KiB gzip (budget ${BUDGET_KIB} KiB gzip)`,
);
if (gzip / 1024 > BUDGET_KIB) {
  console.error('over budget');
  process.exit(1);
}
