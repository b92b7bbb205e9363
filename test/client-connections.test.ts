import { afterAll, describe, expect, it } from 'vitest';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import {
  DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS,
  type NodeGatewayOptions,
} from '../src/adapters/node/server-options.ts';
import { silentLogger } from '../src/core/logger.ts';
import { policyFrom } from './support/policy.ts';
import { until, within } from './support/poll.ts';
import {
  openRaw,
  parseRawAnswer,
  type RawAnswer,
  type RawConnection,
} from './support/raw-client.ts';
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

/** GET /healthz on `connection` (kept open: raw, so only the server can close it); resolves with the answer. */
async function healthz(connection: RawConnection): Promise<RawAnswer> {
  const from = connection.received().length;
  connection.socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
  return until(
    'the answer to GET /healthz',
    () => {
      const answer = parseRawAnswer(connection.received().slice(from));
      const length = Number(answer.headers.get('content-length'));
      return answer.status > 0 && Buffer.byteLength(answer.body) >= length ? answer : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 5 },
  );
}

describe('client keep-alive', () => {
  it(`keeps an idle client connection for ${DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS / 1000} s by default and says so; keepAliveTimeoutMs closes one sooner`, async () => {
    const kept = await openRaw((await gateway()).url);
    const closing = await openRaw((await gateway({ keepAliveTimeoutMs: 1_000 })).url);
    let keptClosed = false;
    void kept.closed.then(() => (keptClosed = true));
    try {
      expect((await healthz(kept)).headers.get('keep-alive')).toBe(
        `timeout=${DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS / 1000}`,
      );
      expect((await healthz(closing)).headers.get('keep-alive')).toBe('timeout=1');
      // The 1 s gateway's close is the clock: by then the default one's connection, idle since
      // before, has outlived that setting.
      await within('the 1 s gateway to close its idle connection', closing.closed, 10_000);
      expect(keptClosed).toBe(false);
      expect((await healthz(kept)).status).toBe(200); // the same connection carries a second request
    } finally {
      kept.socket.destroy();
      closing.socket.destroy();
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
