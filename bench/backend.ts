// The benchmark's far side, in its own process so its CPU does not mix with the gateway's or the
// load generator's: the simulated processor and three carrier fault proxies, driven over HTTP.
//   node bench/backend.ts CONTROL_PORT PROCESSOR_PORT CARRIER_PORT
// Carriers listen on 127.0.3.1, .2 and .3 at CARRIER_PORT. Control API (127.0.0.1:CONTROL_PORT):
//   POST /carriers/{id}/{mode}   set a carrier mode (up, blackhole, reset, refuse, slow:MS, flap:MS)
//   POST /reset                  restore all carriers, forget the ledger
//   GET  /ledger                 { charges, byReference: { ref: count } }
import { createServer } from 'node:http';
import { CarrierProxy, parseCarrierMode } from '../src/demo/carrier.ts';
import { SimulatedProcessor } from '../src/demo/processor.ts';

export const BENCH_CARRIERS = [
  { id: 'kt-fiber', host: '127.0.3.1' },
  { id: 'skt-fiber', host: '127.0.3.2' },
  { id: 'lgu-lte', host: '127.0.3.3' },
] as const;

const [controlPort, processorPort, carrierPort] = process.argv.slice(2).map(Number);
if (!controlPort || !processorPort || !carrierPort) {
  console.error('usage: node bench/backend.ts CONTROL_PORT PROCESSOR_PORT CARRIER_PORT');
  process.exit(2);
}

const processor = await new SimulatedProcessor({ port: processorPort }).start();
const carriers = new Map<string, CarrierProxy>();
for (const c of BENCH_CARRIERS) {
  carriers.set(
    c.id,
    await new CarrierProxy({
      name: c.id,
      host: c.host,
      port: carrierPort,
      target: { host: '127.0.0.1', port: processorPort },
    }).start(),
  );
}

createServer((req, res) => {
  const reply = (status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const parts = (req.url ?? '/').split('/').filter(Boolean);
  void (async () => {
    if (req.method === 'POST' && parts[0] === 'carriers' && parts.length === 3) {
      const carrier = carriers.get(parts[1]!);
      if (!carrier) return reply(404, { error: 'no such carrier' });
      await carrier.setMode(parseCarrierMode(decodeURIComponent(parts[2]!)));
      return reply(200, carrier.mode);
    }
    if (req.method === 'POST' && parts[0] === 'reset') {
      for (const carrier of carriers.values()) await carrier.setMode({ mode: 'up' });
      processor.reset();
      return reply(200, {});
    }
    if (req.method === 'GET' && parts[0] === 'ledger') {
      const byReference: Record<string, number> = {};
      for (const charge of processor.charges)
        if (charge.reference)
          byReference[charge.reference] = (byReference[charge.reference] ?? 0) + 1;
      return reply(200, { charges: processor.charges.length, byReference });
    }
    reply(404, {});
  })().catch((error: unknown) => reply(500, { error: String(error) }));
}).listen(controlPort, '127.0.0.1', () => console.log('ready'));
