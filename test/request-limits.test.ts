import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import { silentLogger } from '../src/core/logger.ts';
import { policyFrom } from './support/policy.ts';
import { SimulatedProcessor } from '../src/demo/processor.ts';
import { within } from './support/poll.ts';
import { openRaw, type RawConnection } from './support/raw-client.ts';

// Slow and greedy senders on real sockets: a request must arrive whole within limits.requestTimeoutMs,
// and request bodies together stay within limits.bodyBudgetBytes.
const running: RunningGateway[] = [];
// The route leaves upstreamHonors at false: a processor that does not de-duplicate either.
const processor = await new SimulatedProcessor({ honorKeys: false }).start();
const sockets: Socket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(running.map((g) => g.close()));
  await processor.stop();
});

async function gateway(limits: string): Promise<{ host: string; port: number }> {
  const policy = policyFrom(`
version: 1
paths:
  - { id: only, upstream: "${processor.url}" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [only]
probe: { enabled: false }
limits: ${limits}
`);
  const started = await startNodeGateway({
    policy,
    policyHash: 'test',
    port: 0,
    logger: silentLogger,
    warmCodePaths: false,
    probes: false,
    dashboardDir: false,
  });
  running.push(started);
  const url = new URL(started.url);
  return { host: url.hostname, port: Number(url.port) };
}

/** A raw client connection, closed after the tests. */
async function open(target: { host: string; port: number }): Promise<RawConnection> {
  const connection = await openRaw(target);
  sockets.push(connection.socket);
  return connection;
}

/** Writes `text` one byte at a time every `everyMs`, until the socket closes or the text is sent. */
async function trickle(socket: Socket, text: string, everyMs: number): Promise<void> {
  for (const char of text) {
    if (socket.destroyed) return;
    socket.write(char);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const payment = (body: string) =>
  `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nIdempotency-Key: k-${crypto.randomUUID()}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describe('a request must arrive whole within limits.requestTimeoutMs', () => {
  it('answers 408 request_timeout and closes a connection that trickles its request headers', async () => {
    const target = await gateway('{ requestTimeoutMs: 500 }');
    const client = await open(target);
    // 400 bytes at one per 50 ms would take 20 s: far past the limit.
    void trickle(
      client.socket,
      `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nX-Slow: ${'a'.repeat(360)}\r\n\r\n`,
      50,
    );
    await within('the gateway to close a connection trickling its headers', client.closed, 10_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(client.received().split('\r\n\r\n')[1]!)).toMatchObject({
      error: { code: 'request_timeout' },
    });
  });

  it('answers 408 request_timeout and closes a connection that sends nothing at all', async () => {
    const target = await gateway('{ requestTimeoutMs: 500 }');
    const client = await open(target);
    await within('the gateway to close a silent connection', client.closed, 10_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.received()).toContain('"request_timeout"');
  });

  it('keeps a connection whose request arrived while its answer takes longer than the timeout', async () => {
    const target = await gateway('{ requestTimeoutMs: 500 }');
    const client = await open(target);
    processor.serviceTimeMs = 1_500; // the answer takes three times the request timeout
    try {
      const answered = new Promise<void>((resolve) =>
        client.socket.on('data', () => client.received().includes('\r\n\r\n') && resolve()),
      );
      client.socket.write(payment(JSON.stringify({ amount: 100, reference: 'slow-answer' })));
      await within('an answer', answered, 10_000);
    } finally {
      processor.serviceTimeMs = 0;
    }
    expect(client.received()).toMatch(/^HTTP\/1\.1 201 /);
    expect(client.socket.destroyed).toBe(false);
  });

  it('answers 408 request_timeout and closes a connection that trickles its body, and others are still served', async () => {
    const target = await gateway('{ requestTimeoutMs: 500 }');
    const client = await open(target);
    const body = JSON.stringify({ amount: 100, reference: 'slow', pad: 'p'.repeat(300) });
    const request = payment(body);
    const headEnd = request.indexOf('\r\n\r\n') + 4;
    client.socket.write(request.slice(0, headEnd));
    void trickle(client.socket, request.slice(headEnd), 50);
    await within('the gateway to close a connection trickling its body', client.closed, 10_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.received()).toContain('"request_timeout"');
    expect(processor.chargesFor('slow')).toBe(0);

    const response = await fetch(`http://${target.host}:${target.port}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-after-slow' },
      body: JSON.stringify({ amount: 100, reference: 'after-slow' }),
    });
    expect(response.status).toBe(201);
  });
});

describe('request bodies share limits.bodyBudgetBytes', () => {
  it('holds back bodies past the budget, then answers 503 body_budget_exhausted, while a payment still gets through', async () => {
    // 128 KiB in all; bodies past 64 KiB may fill only 7/8 of it (112 KiB).
    const target = await gateway(
      '{ bodyBudgetBytes: 131072, bodyBudgetWaitMs: 300, requestTimeoutMs: 60000 }',
    );
    const declared = 200_000;
    const sent = Buffer.alloc(90_000, 'x');
    const greedy = await Promise.all([1, 2, 3].map(() => open(target)));
    for (const client of greedy) {
      client.socket.write(
        `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      client.socket.write(sent); // and then nothing: the rest never comes
    }
    const first = await within(
      'a greedy body to be refused',
      Promise.race(greedy.map((c) => c.closed.then(() => c))),
      10_000,
    );
    expect(first.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(first.received()).toMatch(/connection: close/i);
    expect(first.received()).toContain('"body_budget_exhausted"');

    // A payment's small body fits in the part kept for small bodies.
    const response = await fetch(`http://${target.host}:${target.port}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-beside-greedy' },
      body: JSON.stringify({ amount: 100, reference: 'beside-greedy' }),
    });
    expect(response.status).toBe(201);
    const status = (await (await fetch(`http://${target.host}:${target.port}/status`)).json()) as {
      requestBodies: { budgetBytes: number; heldBytes: number };
    };
    expect(status.requestBodies.budgetBytes).toBe(131_072);
    expect(status.requestBodies.heldBytes).toBeLessThanOrEqual(131_072);
  });
});
