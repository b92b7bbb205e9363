// `npm start`: a self-contained demo. A simulated processor, one simulated carrier per path of
// policies/default.yaml (a fault-injecting proxy on the path's loopback address), the gateway on
// :8787, and a small control API on :8788 to cut and restore carriers. No Redis needed.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../adapters/node/logger.ts';
import { loadAdminTokens } from '../adapters/node/admin-tokens.ts';
import { loadPolicyFile, PolicyFileError } from '../adapters/node/policy-file.ts';
import { startNodeGateway } from '../adapters/node/server.ts';
import { DEMO_MERCHANT_ID, DEMO_MERCHANT_SECRET } from './demo-merchant.ts';
import { carrierCommands, paymentCommand } from './instructions.ts';
import { CarrierProxy, parseCarrierMode } from './carrier.ts';
import { SimulatedProcessor } from './processor.ts';

const policyFile =
  process.env.PAYPATH_POLICY ??
  fileURLToPath(new URL('../../policies/default.yaml', import.meta.url));
const gatewayPort = Number(process.env.PORT ?? 8787);
const controlPort = Number(process.env.DEMO_CONTROL_PORT ?? 8788);
const processorPort = Number(process.env.DEMO_PROCESSOR_PORT ?? 9400);

async function main(): Promise<void> {
  const { policy, hash } = await loadPolicyFile(policyFile);
  const processor = await new SimulatedProcessor({
    host: '127.0.0.1',
    port: processorPort,
    serviceTimeMs: 5,
  }).start();
  const carriers = new Map<string, CarrierProxy>();
  for (const path of policy.paths) {
    const url = new URL(path.upstream);
    const carrier = new CarrierProxy({
      name: path.id,
      host: url.hostname,
      port: Number(url.port),
      target: { host: '127.0.0.1', port: processor.port },
    });
    carriers.set(path.id, await carrier.start());
  }
  const logger = createLogger();
  // A policy with a merchants section (e.g. policies/examples/demo-signed.yaml) gets the demo's
  // merchant key unless keys are configured in the environment the policy names.
  const signed = policy.merchants !== undefined;
  const keysFromEnv =
    policy.merchants?.keys.env !== undefined &&
    process.env[policy.merchants.keys.env] !== undefined;
  const merchantKeys =
    signed && !keysFromEnv ? new Map([[DEMO_MERCHANT_ID, DEMO_MERCHANT_SECRET]]) : undefined;
  // The admin API needs a token: PAYPATH_ADMIN_TOKENS if set, else a fresh operator token printed below.
  const demoToken = `demo-${randomBytes(12).toString('hex')}`;
  const adminTokens = await loadAdminTokens({
    spec: process.env.PAYPATH_ADMIN_TOKENS ?? `demo:operator:${demoToken}`,
  });
  const gateway = await startNodeGateway({
    policy,
    policyHash: hash,
    port: gatewayPort,
    logger,
    policyFile,
    adminTokens,
    ...(merchantKeys ? { merchantKeys } : {}),
  });

  const control = createServer((req, res) => {
    const reply = (status: number, body: unknown) =>
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(body)}\n`);
    const parts = (req.url ?? '/').split('/').filter(Boolean);
    if (req.method === 'GET' && parts[0] === 'carriers' && parts.length === 1) {
      return reply(200, Object.fromEntries([...carriers].map(([id, c]) => [id, c.mode])));
    }
    if (req.method === 'GET' && parts[0] === 'ledger') {
      return reply(200, {
        charges: processor.charges.length,
        duplicateCharges: processor.duplicateCharges,
        recent: processor.charges.slice(-5),
      });
    }
    if (req.method === 'POST' && parts[0] === 'carriers' && parts.length === 3) {
      const carrier = carriers.get(parts[1]!);
      if (!carrier)
        return reply(404, {
          error: `no carrier "${parts[1]}"; carriers: ${[...carriers.keys()].join(', ')}`,
        });
      try {
        const mode = parseCarrierMode(decodeURIComponent(parts[2]!));
        void carrier.setMode(mode).then(() => {
          logger.warn(
            { event: 'carrier_mode', carrier: carrier.name, ...mode },
            `demo: carrier ${carrier.name} is now ${mode.mode}`,
          );
          reply(200, { carrier: carrier.name, ...mode });
        });
        return;
      } catch (error) {
        return reply(400, { error: (error as Error).message });
      }
    }
    reply(404, {
      error:
        'try GET /carriers, POST /carriers/{id}/{up|blackhole|reset|refuse|slow:MS|flap:MS}, GET /ledger',
    });
  });
  await new Promise<void>((resolve) => control.listen(controlPort, '127.0.0.1', resolve));

  const first = policy.paths[0]!.id;
  const second = policy.paths[1]?.id ?? first;
  console.log(`
paypath demo is running
  gateway      ${gateway.url}   (policy ${policyFile}, hash ${hash})
  processor    ${processor.url} (simulated; ledger at http://127.0.0.1:${controlPort}/ledger)
  carriers     ${[...carriers.values()].map((c) => `${c.name} ${c.host}:${c.port}`).join(', ')}
  control      http://127.0.0.1:${controlPort}

Send a payment (each run is a new payment: a new reference and idempotency key):
${paymentCommand(gateway.url, signed)}${signed ? `\n  (merchant authentication is on: requests are signed as ${DEMO_MERCHANT_ID}; unsigned ones get 401)` : ''}

Cut carriers (modes: blackhole, reset, refuse, slow:MS, flap:MS), then restore them:
${carrierCommands(`http://127.0.0.1:${controlPort}`, first, second)}
Watch the paths:
  curl -s ${gateway.url}/status
With one or two carriers cut, payments keep succeeding (see x-paypath-path).

Dashboard (docs/dashboard.md): ${gateway.url}/dashboard/${process.env.PAYPATH_ADMIN_TOKENS ? ' (sign in with a token from PAYPATH_ADMIN_TOKENS)' : ` (sign in with ${demoToken})`}

Ops (docs/ops.md): metrics at ${gateway.url}/metrics; the admin API and CLI take a token${
    process.env.PAYPATH_ADMIN_TOKENS
      ? ' from PAYPATH_ADMIN_TOKENS'
      : `:
  export PAYPATH_ADMIN_TOKEN=${demoToken} PAYPATH_URL=${gateway.url}`
  }
  npx paypath status
  npx paypath drill ${first} --duration 5000 --wait     # prove the backups while you send payments
${
  policy.paths.length > 1
    ? `  npx paypath drill ${policy.paths
        .slice(0, -1)
        .map((p) => p.id)
        .join(
          ' ',
        )} --duration 5000 --wait   # ${policy.paths.at(-1)!.id}, the last resort, carries them\n`
    : ''
}  npx paypath policy history
Editing ${policyFile} applies it live (an invalid edit is reported in /status and kept out).
Ctrl-C stops everything.
`);

  const shutdown = async () => {
    control.close();
    await gateway.close();
    await Promise.all([...carriers.values()].map((c) => c.stop()));
    await processor.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

main().catch((error: unknown) => {
  if (error instanceof PolicyFileError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
