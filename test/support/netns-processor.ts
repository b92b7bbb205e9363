// The simulated processor (processor.ts) as a process inside a bed's processor namespace
// (netns-bed.ts). It serves payments on HOST:PORT (default [::]:8080, IPv4 and IPv6) and answers
// the test on a Unix socket (the file system is shared across namespaces), never over the bed's
// links:
//   GET  /ledger  {charges, duplicateCharges, postsWithoutKey, bySource {address: count},
//                  byReference {reference: count}, sourcesByReference {reference: [address…]}}
//                  (IPv4-mapped addresses shown as plain IPv4)
//   POST /reset   forget every charge
//   POST /service-time?ms=N   delay every answer by N ms
// Usage: node netns-processor.ts CONTROL_SOCKET [PORT] [HOST] [MAX_REQUESTS_PER_SOCKET]. Prints
// "ready" once both listen; exits when its stdin closes or on SIGTERM.
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { SimulatedProcessor } from '../../src/demo/processor.ts';

const [controlSocket, portText = '8080', host = '::', maxRequestsText] = process.argv.slice(2);
if (!controlSocket) {
  console.error('usage: netns-processor.ts CONTROL_SOCKET [PORT] [HOST] [MAX_REQUESTS_PER_SOCKET]');
  process.exit(2);
}
const processor = await new SimulatedProcessor({
  host,
  port: Number(portText),
  maxRequestsPerSocket: maxRequestsText ? Number(maxRequestsText) : undefined,
}).start();

const plain = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address);

const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://control');
  let body: unknown = { ok: true };
  if (req.method === 'GET' && url.pathname === '/ledger') {
    const bySource: Record<string, number> = {};
    const byReference: Record<string, number> = {};
    const sourcesByReference: Record<string, string[]> = {};
    for (const charge of processor.charges) {
      const source = plain(charge.remoteAddress);
      bySource[source] = (bySource[source] ?? 0) + 1;
      if (charge.reference === undefined) continue;
      byReference[charge.reference] = (byReference[charge.reference] ?? 0) + 1;
      (sourcesByReference[charge.reference] ??= []).push(source);
    }
    body = {
      charges: processor.charges.length,
      duplicateCharges: processor.duplicateCharges,
      postsWithoutKey: processor.postsWithoutKey,
      bySource,
      byReference,
      sourcesByReference,
    };
  } else if (req.method === 'POST' && url.pathname === '/reset') {
    processor.reset();
  } else if (req.method === 'POST' && url.pathname === '/service-time') {
    processor.serviceTimeMs = Number(url.searchParams.get('ms') ?? 0);
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
rmSync(controlSocket, { force: true });
control.listen(controlSocket, () => console.log('ready'));

const stop = () => {
  control.close();
  rmSync(controlSocket, { force: true });
  void processor.stop().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
