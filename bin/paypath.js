#!/usr/bin/env node
// paypath runs its TypeScript sources directly (Node's type stripping, Node >= 22.18); no build step.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(
    `paypath needs Node.js >= 22.19 (24 LTS recommended); this is ${process.version}.\n` +
      'Run it through npm (npx paypath …, npm start), which uses the Node 24 that npm install put in node_modules/.bin.',
  );
  process.exit(1);
}
// `serve` runs for days: keep V8's heap small (docs/ops.md, Memory). Under load V8's defaults let
// the young generation reach 128 MB and the old one grow to 4x its live data before collecting;
// with these the peak resident memory under load was about 85 MB lower, at some 15 % of the
// throughput (docs/ops.md).
// PAYPATH_V8_HEAP=default keeps V8's own sizing; node flags of the same names given to this
// process (node's command line, or NODE_OPTIONS for --max-semi-space-size) win.
const heapMode = process.env.PAYPATH_V8_HEAP ?? 'small';
if (process.argv[2] === 'serve' && heapMode !== 'small' && heapMode !== 'default') {
  console.error(
    `paypath: PAYPATH_V8_HEAP must be "small" (the default) or "default", got "${heapMode}"`,
  );
  process.exit(2);
}
if (process.argv[2] === 'serve' && heapMode === 'small') {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map((arg) =>
    arg.replaceAll('_', '-'),
  );
  const has = (flag) => given.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  // Collect the old generation when it has grown by half (V8 waits for up to 4x when GC looks cheap).
  if (!has('--heap-growing-percent'))
    (await import('node:v8')).setFlagsFromString('--heap-growing-percent=50');
  // The young generation is sized once, when V8 starts (setFlagsFromString is too late for it), so
  // this flag takes replacing this process with itself: same PID, stdio and environment.
  // Not under an IPC channel (child_process.fork): its descriptor would not survive the exec.
  if (
    !has('--max-semi-space-size') &&
    !has('--max-heap-size') &&
    typeof process.execve === 'function' &&
    process.channel === undefined
  ) {
    try {
      process.execve(process.execPath, [
        process.execPath,
        '--max-semi-space-size=16',
        ...process.execArgv,
        ...process.argv.slice(1),
      ]);
    } catch {
      // Not allowed here (e.g. under the permission model): run with V8's default young generation.
    }
  }
}
// Cache compiled code, including the type-stripped sources: a warm start then never loads the
// type-stripping WebAssembly compiler, which otherwise stays resident (about 18 MB).
// NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=dir moves it.
(await import('node:module')).enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
