import { Agent, request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import {
  DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS,
  type NodeGatewayOptions,
} from '../src/adapters/node/server-options.ts';
import { silentLogger } from '../src/core/logger.ts';
import { policyFrom } from './support/policy.ts';
import { until, within } from './support/poll.ts';
import { SimulatedProcessor } from '../src/demo/processor.ts';

// The gateway's side of client connections. Idle ones stay open long enough that the client's
// pool, not paypath, closes them, and a stop lets the payments in flight finish: either way a
// payment sent on a connection the server cuts leaves the client not knowing whether it was paid.
const running: RunningGateway[] = [];
const processors: SimulatedProcessor[] = [];
afterAll(async () => {
  await Promise.all(running.map((g) => g.close()));
  await Promise.all(processors.map((p) => p.stop()));
});

async function gateway(
  options: Partial<NodeGatewayOptions> = {},
  upstream = 'http://127.0.0.1:9',
): Promise<RunningGateway> {
  const policy = policyFrom(`
version: 1
paths:
  - { id: only, upstream: "${upstream}" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [only]
    idempotency: { upstreamHonors: true }
probe: { enabled: false }
`);
  const started = await startNodeGateway({
    policy,
    policyHash: 'test',
    port: 0,
    logger: silentLogger,
    warmCodePaths: false,
    ...options,
  });
  running.push(started);
  return started;
}

/** GET /healthz on a keep-alive connection; resolves with the answer and the socket it came on. */
function healthz(
  url: string,
  agent: Agent,
): Promise<{ response: IncomingMessage; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { agent }, (response) => {
      response.resume();
      response.once('end', () => resolve({ response, socket: req.socket as Socket }));
    });
    req.once('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('client keep-alive', () => {
  it(`keeps an idle client connection for ${DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS / 1000} s by default and says so`, async () => {
    const { url } = await gateway();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await healthz(url, agent);
      expect(first.response.headers['keep-alive']).toBe(
        `timeout=${DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS / 1000}`,
      );
      await sleep(1_500);
      expect(first.socket.destroyed).toBe(false);
      const second = await healthz(url, agent);
      expect(second.socket).toBe(first.socket); // the same connection carried both
    } finally {
      agent.destroy();
    }
  });

  it('closes an idle client connection after keepAliveTimeoutMs', async () => {
    const { url } = await gateway({ keepAliveTimeoutMs: 1_000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { response, socket } = await healthz(url, agent);
      expect(response.headers['keep-alive']).toBe('timeout=1');
      await within(
        'the gateway to close the idle connection',
        new Promise((resolve) => socket.once('close', resolve)),
        10_000,
      );
    } finally {
      agent.destroy();
    }
  });
});

describe('stopping', () => {
  it('lets a payment in flight finish before it stops, charged once, and refuses new connections meanwhile', async () => {
    const processor = await new SimulatedProcessor({ serviceTimeMs: 400 }).start();
    processors.push(processor);
    const started = await gateway({}, processor.url);
    const payment = fetch(`${started.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'drain-1' },
      body: JSON.stringify({ amount: 4500, currency: 'KRW', reference: 'drain-1' }),
    });
    await until(
      'the processor to receive the payment',
      () => processor.requests.get('/v1/payments') !== undefined,
      { timeoutMs: 5_000, intervalMs: 10 },
    );
    const stopped = started.close();
    const refused = await until(
      'the stopping gateway to refuse a new connection',
      () =>
        fetch(`${started.url}/healthz`).then(
          () => undefined,
          (error: { cause?: { code?: string } }) => error.cause?.code ?? 'no code',
        ),
      { timeoutMs: 5_000, intervalMs: 10 },
    );
    expect(refused).toBe('ECONNREFUSED');
    const answer = await payment;
    expect(answer.status).toBe(201);
    expect(answer.headers.get('connection')).toBe('close');
    await stopped;
    expect(processor.chargesFor('drain-1')).toBe(1);
  });
});
