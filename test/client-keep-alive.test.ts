import { Agent, request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS, startNodeGateway, type NodeGatewayOptions, type RunningGateway } from '../src/adapters/node/server.ts';
import { silentLogger } from '../src/core/logger.ts';
import { policyFrom } from './support/policy.ts';

// Idle client connections stay open long enough that the client's pool, not paypath, closes them:
// a payment sent on a connection the server is closing fails without the client knowing whether
// it arrived.
const running: RunningGateway[] = [];
afterAll(async () => {
  await Promise.all(running.map((g) => g.close()));
});

async function gateway(options: Partial<NodeGatewayOptions> = {}): Promise<RunningGateway> {
  const policy = policyFrom(`
version: 1
paths:
  - { id: only, upstream: "http://127.0.0.1:9" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [only]
probe: { enabled: false }
`);
  const started = await startNodeGateway({ policy, policyHash: 'test', port: 0, logger: silentLogger, warmCodePaths: false, ...options });
  running.push(started);
  return started;
}

/** GET /healthz on a keep-alive connection; resolves with the answer and the socket it came on. */
function healthz(url: string, agent: Agent): Promise<{ response: IncomingMessage; socket: Socket }> {
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
      expect(first.response.headers['keep-alive']).toBe(`timeout=${DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS / 1000}`);
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
      const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
      expect(await Promise.race([closed, sleep(3_000).then(() => false)])).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});
