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
// Cache compiled code, including the type-stripped sources: a warm start then never loads the
// type-stripping WebAssembly compiler, which otherwise stays resident (about 18 MB).
// NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=dir moves it.
(await import('node:module')).enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
