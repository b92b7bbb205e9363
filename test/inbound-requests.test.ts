import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import { silentLogger } from '../src/core/logger.ts';
import { policyFrom } from './support/policy.ts';
import { rawExchange as raw } from './support/raw-client.ts';

// What reaches paypath's socket is answered as RFC 9112 and paypath's own error contract say, and
// what it sends on carries no client claim it cannot vouch for. Raw sockets: clients like fetch
// would never send a second Host header or an oversized header block.

function post(target: string, headers: string[], body: string): string {
  return [
    `POST ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...headers,
    '',
    body,
  ].join('\r\n');
}

describe('inbound requests over real sockets', () => {
  let upstream: Server;
  const received: IncomingHttpHeaders[] = [];
  let gateway: RunningGateway;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      received.push(req.headers);
      req.resume();
      req.on('end', () =>
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"ch_1"}'),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const policy = policyFrom(`
version: 1
paths:
  - { id: only, upstream: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [only]
    maxBodyBytes: 1024
    idempotency: { upstreamHonors: true }
probe: { enabled: false }
limits: { maxHeaderBytes: 2048 }
`);
    gateway = await startNodeGateway({
      policy,
      policyHash: 'test',
      port: 0,
      logger: silentLogger,
      warmCodePaths: false,
    });
  });
  // What reached the upstream is counted per test: the X-Forwarded-For test sends one request on.
  beforeEach(() => {
    received.length = 0;
  });
  afterAll(async () => {
    await gateway?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('refuses a request with two Host headers (400), sending nothing upstream', async () => {
    const answer = await raw(
      gateway.url,
      post('/v1/payments', ['Host: evil.example', 'Idempotency-Key: k-host'], '{"amount":1}'),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatchObject({
      code: 'invalid_request',
      header: 'host',
    });
    expect(answer.headers.get('idempotency-key')).toBe('k-host');
    expect(received).toHaveLength(0);
  });

  it('gives the idempotency key back on a 413', async () => {
    const answer = await raw(
      gateway.url,
      post('/v1/payments', ['Idempotency-Key: k-413'], JSON.stringify({ pad: 'x'.repeat(2_000) })),
    );
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe('body_too_large');
    expect(answer.headers.get('idempotency-key')).toBe('k-413');
    expect(received).toHaveLength(0);
  });

  it('answers a header block over the limit, refused by the HTTP parser, with 431 headers_too_large as JSON and the key', async () => {
    const answer = await raw(
      gateway.url,
      post(
        '/v1/payments',
        ['Idempotency-Key: k-431', `X-Pad: ${'y'.repeat(3_000)}`],
        '{"amount":1}',
      ),
    );
    expect(answer.status).toBe(431);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(answer.body).error).toMatchObject({ code: 'headers_too_large', limit: 2048 });
    expect(answer.headers.get('idempotency-key')).toBe('k-431');
    expect(received).toHaveLength(0);
  });

  it('answers other requests the HTTP parser refuses with a JSON 400 invalid_request', async () => {
    const answer = await raw(
      gateway.url,
      'POST /v1/payments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx',
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error.code).toBe('invalid_request');
    expect(received).toHaveLength(0);
  });

  it("appends the address the request came from to a client's X-Forwarded-For (policy default: append)", async () => {
    const answer = await raw(
      gateway.url,
      post(
        '/v1/payments',
        ['Idempotency-Key: k-xff', 'X-Forwarded-For: 203.0.113.9'],
        '{"amount":1}',
      ),
    );
    expect(answer.status).toBe(201);
    expect(received).toHaveLength(1);
    expect(received[0]?.['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
  });
});
