import { chmodSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import { SecretFileError } from '../src/adapters/node/secret-file.ts';
import type { Logger } from '../src/core/logger.ts';
import { policyFrom } from './support/policy.ts';
import { makeTlsFixtures, TlsUpstream, type TlsFixtures } from './support/tls-fixtures.ts';

// Upstream TLS: certificates are verified against the path's CA, TLS 1.2 is the floor, and a
// handshake failure is a "not sent" failure, so the payment goes to the next path at once.
let fixtures: TlsFixtures;
let caFile: string;
const upstreams: TlsUpstream[] = [];
const running: RunningGateway[] = [];

beforeAll(async () => {
  fixtures = await makeTlsFixtures();
  caFile = fixtures.file('upstream-ca.pem', fixtures.ca.cert, 0o644);
});

afterAll(async () => {
  await Promise.all(running.map((g) => g.close()));
  await Promise.all(upstreams.map((u) => u.stop()));
  fixtures.cleanup();
});

async function upstream(
  options: ConstructorParameters<typeof TlsUpstream>[0],
): Promise<TlsUpstream> {
  const u = await new TlsUpstream(options).start();
  upstreams.push(u);
  return u;
}

function capturingLogger(): { logger: Logger; lines: { fields: object; message?: string }[] } {
  const lines: { fields: object; message?: string }[] = [];
  const push = (fields: object, message?: string) => lines.push({ fields, message });
  return { logger: { info: push, warn: push, error: push }, lines };
}

async function gatewayFor(pathsYaml: string, logger: Logger): Promise<RunningGateway> {
  const policy = policyFrom(`
version: 1
paths:
${pathsYaml}
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    class: payment
    paths: [first, second]
    attemptTimeoutMs: 5000
    idempotency: { upstreamHonors: true }
probe: { enabled: false } # these tests count upstream requests and attempts; probes are tested on their own
`);
  const gateway = await startNodeGateway({
    policy,
    policyHash: 'test',
    port: 0,
    logger,
    warmCodePaths: false,
  });
  running.push(gateway);
  return gateway;
}

async function pay(gateway: RunningGateway): Promise<Response> {
  return fetch(`${gateway.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `tls-${Math.random()}` },
    body: '{"amount": 4500}',
  });
}

const serverTls = (pem: { cert: string; key: string }) => ({ cert: pem.cert, key: pem.key });

describe('upstream TLS', () => {
  const refusedCases: [string, () => Promise<TlsUpstream>][] = [
    ['a self-signed certificate', () => upstream(serverTls(fixtures.selfSigned))],
    ['an expired certificate', () => upstream(serverTls(fixtures.expiredServer))],
    [
      'only TLS 1.1',
      () =>
        upstream({
          ...serverTls(fixtures.server),
          minVersion: 'TLSv1.1',
          maxVersion: 'TLSv1.1',
          ciphers: 'DEFAULT@SECLEVEL=0',
        }),
    ],
  ];

  for (const [name, makeBad] of refusedCases) {
    it(`refuses an upstream with ${name} (tls_failed, not sent) and fails over to the next path`, async () => {
      const bad = await makeBad();
      const good = await upstream(serverTls(fixtures.server));
      const { logger, lines } = capturingLogger();
      const gateway = await gatewayFor(
        `  - { id: first, upstream: "${bad.url}", tls: { ca: "${caFile}", servername: localhost } }
  - { id: second, upstream: "${good.url}", tls: { ca: "${caFile}", servername: localhost } }`,
        logger,
      );
      const response = await pay(gateway);
      expect(response.status).toBe(201);
      expect(response.headers.get('x-paypath-path')).toBe('second');
      expect(response.headers.get('x-paypath-attempts')).toBe('2');
      expect(bad.requests).toBe(0);
      expect(good.requests).toBe(1);
      const first = gateway.gateway.status().paths.find((p) => p.id === 'first');
      expect(first?.lastError?.code).toBe('tls_failed');
      const loud = lines.find(
        (l) => (l.fields as { event?: string }).event === 'upstream_tls_failed',
      );
      expect(loud).toBeDefined();
      expect((loud!.fields as { path?: string }).path).toBe('first');
    });
  }

  it('the TLS 1.1 upstream above really speaks TLS 1.1 to a client that allows it (so the refusal is the floor at work)', async () => {
    const { connect } = await import('node:tls');
    const old = await upstream({
      ...serverTls(fixtures.server),
      minVersion: 'TLSv1.1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port: old.port,
        ca: fixtures.ca.cert,
        servername: 'localhost',
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      socket.once('secureConnect', () => {
        resolve(socket.getProtocol());
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(protocol).toBe('TLSv1.1');
  });

  it('speaks mTLS to an upstream that requires a client certificate', async () => {
    const strict = await upstream({
      ...serverTls(fixtures.server),
      ca: fixtures.clientCa.cert,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const fallback = await upstream(serverTls(fixtures.server));
    const cert = fixtures.file('client.pem', fixtures.client.cert, 0o644);
    const key = fixtures.file('client-key.pem', fixtures.client.key, 0o600);
    const gateway = await gatewayFor(
      `  - { id: first, upstream: "${strict.url}", tls: { ca: "${caFile}", cert: "${cert}", key: "${key}", servername: localhost, minVersion: TLSv1.2 } }
  - { id: second, upstream: "${fallback.url}", tls: { ca: "${caFile}" } }`,
      capturingLogger().logger,
    );
    const response = await pay(gateway);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-paypath-path')).toBe('first');
    expect(await response.json()).toEqual({ ok: true, client: true });
    expect(strict.requests).toBe(1);
    expect(fallback.requests).toBe(0);
  });

  it('without the client certificate, the mTLS upstream never sees the request', async () => {
    const strict = await upstream({
      ...serverTls(fixtures.server),
      ca: fixtures.clientCa.cert,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const fallback = await upstream(serverTls(fixtures.server));
    const gateway = await gatewayFor(
      `  - { id: first, upstream: "${strict.url}", tls: { ca: "${caFile}" } }
  - { id: second, upstream: "${fallback.url}", tls: { ca: "${caFile}" } }`,
      capturingLogger().logger,
    );
    const response = await pay(gateway);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-paypath-path')).toBe('second');
    expect(strict.requests).toBe(0);
  });

  it('refuses to start with a client key file that others may read', async () => {
    const cert = fixtures.file('client2.pem', fixtures.client.cert, 0o644);
    const key = fixtures.file('client2-key.pem', fixtures.client.key, 0o600);
    chmodSync(key, 0o644);
    const policy = policyFrom(`
version: 1
paths:
  - { id: first, upstream: "https://127.0.0.1:9", tls: { cert: "${cert}", key: "${key}" } }
routes:
  - { id: payments, match: { method: POST, path: /v1/payments }, paths: [first] }
`);
    const error = await startNodeGateway({
      policy,
      policyHash: 'test',
      port: 0,
      logger: capturingLogger().logger,
    }).then(
      (g) => {
        running.push(g);
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SecretFileError);
    expect(String(error)).toContain('chmod 600');
    expect(String(error)).not.toContain('PRIVATE KEY');
  });
});
