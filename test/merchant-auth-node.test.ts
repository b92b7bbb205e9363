import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadMerchantKeys } from '../src/adapters/node/merchant-keys.ts';
import { SecretFileError } from '../src/adapters/node/secret-file.ts';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import { main } from '../src/cli/main.ts';
import type { Logger } from '../src/core/logger.ts';
import { execFileSync } from 'node:child_process';
import { DEMO_MERCHANT_SECRET } from '../src/demo/demo-merchant.ts';
import { signedHeaders, verifySignature } from '../src/http/middleware/merchant-auth/signature.ts';
import { policyFrom } from './support/policy.ts';
import { SimulatedProcessor } from '../src/demo/processor.ts';
import { makeTlsFixtures, type TlsFixtures } from './support/tls-fixtures.ts';

// Merchant authentication through the real Node server: keys from a 0600 file, signed payments
// reaching the simulated processor, refusals before anything is sent, and inbound TLS.

const SECRET = 'merchant-secret-0123456789abcdefghij';
let dir: string;
let processor: SimulatedProcessor;
let fixtures: TlsFixtures;
const running: RunningGateway[] = [];
const silent: Logger = { info() {}, warn() {}, error() {} };

function keysFile(mode: number, content = JSON.stringify({ 'shop-1': SECRET })): string {
  const file = join(dir, `keys-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

function policyYaml(keys: string): string {
  return `
version: 1
paths:
  - { id: kt-fiber, upstream: "${processor.url}" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    class: payment
    paths: [kt-fiber]
    idempotency: { upstreamHonors: true }
  - id: lookup
    match: { method: GET, pathPrefix: /v1/payments/ }
    paths: [kt-fiber]
    auth: none
merchants:
  keys: ${keys}
  rateLimit: { ratePerSecond: 0.01, burst: 2 }
`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'paypath-auth-'));
  processor = await new SimulatedProcessor({ host: '127.0.0.1', port: 0 }).start();
  fixtures = await makeTlsFixtures();
});

afterAll(async () => {
  await Promise.all(running.map((g) => g.close()));
  await processor.stop();
  fixtures.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('merchant authentication on the Node server', () => {
  it('signed payments go through, unsigned ones never reach the processor, and the merchant rate is enforced', async () => {
    const policy = policyFrom(policyYaml(`{ file: "${keysFile(0o600)}" }`));
    const gateway = await startNodeGateway({
      policy,
      policyHash: 't',
      port: 0,
      logger: silent,
      warmCodePaths: false,
    });
    running.push(gateway);
    const body = JSON.stringify({ amount: 4500, reference: 'order-node-1' });
    const pay = async (signed: boolean) =>
      fetch(`${gateway.url}/v1/payments`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(signed
            ? await signedHeaders('shop-1', SECRET, {
                method: 'POST',
                target: '/v1/payments',
                body,
              })
            : {}),
        },
        body,
      });
    const before = processor.charges.length;
    const unsigned = await pay(false);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { error: { code: string } }).error.code).toBe(
      'auth_required',
    );
    expect(processor.charges.length).toBe(before);

    const ok = await pay(true);
    expect(ok.status).toBe(201);
    expect(processor.charges.length).toBe(before + 1);
    expect((await pay(true)).status).toBe(201); // second in the burst of 2
    const over = await pay(true);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // A route with auth: none stays open: the request reaches the processor, which knows no ch_1.
    const open = await fetch(`${gateway.url}/v1/payments/ch_1`);
    expect(open.status).toBe(404);
    expect(open.headers.get('x-paypath-path')).toBe('kt-fiber');
    expect(((await open.json()) as { error: { code: string } }).error.code).toBe('not_found');

    // The merchant's secret shows nowhere a monitor looks.
    for (const surface of ['/status', '/metrics']) {
      const response = await fetch(`${gateway.url}${surface}`);
      expect(response.status, surface).toBe(200);
      expect(await response.text(), surface).not.toContain(SECRET);
    }
  });

  it('refuses a keys file that others may read, names it, and never prints a secret', async () => {
    const file = keysFile(0o644);
    const policy = policyFrom(policyYaml(`{ file: "${file}" }`));
    const error = await startNodeGateway({
      policy,
      policyHash: 't',
      port: 0,
      logger: silent,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretFileError);
    expect(String(error)).toContain(file);
    expect(String(error)).toContain('chmod 600');
    expect(String(error)).not.toContain(SECRET);
  });

  it('loads keys from an environment variable and rejects weak or malformed ones without echoing them', () => {
    const merchants = policyFrom(policyYaml('{ env: SHOP_KEYS }')).merchants!;
    expect(
      loadMerchantKeys(merchants, { SHOP_KEYS: JSON.stringify({ 'shop-1': SECRET }) }).get(
        'shop-1',
      ),
    ).toBe(SECRET);
    expect(() => loadMerchantKeys(merchants, {})).toThrow(/SHOP_KEYS: not set/);
    const weak = 'short-secret';
    try {
      loadMerchantKeys(merchants, { SHOP_KEYS: JSON.stringify({ 'shop-1': weak }) });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toMatch(/at least 32 characters/);
      expect(String(error)).not.toContain(weak);
    }
  });

  it('paypath serve exits 2 when the merchant keys are unprotected', async () => {
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, policyYaml(`{ file: "${keysFile(0o640)}" }`));
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['serve', '--policy', policyFile, '--port', '0'])).toBe(2);
      expect(spy.mock.calls.flat().join('\n')).toContain('chmod 600');
    } finally {
      spy.mockRestore();
    }
  });

  it('npm run sign prints curl arguments with a signature that verifies', async () => {
    const body = '{"amount": 4500}';
    const out = execFileSync(
      process.execPath,
      ['scripts/sign-request.ts', 'POST', '/v1/payments', body],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    const headers = Object.fromEntries(
      out
        .trim()
        .split(' -H ')
        .map((part) => part.replace(/^-H /, '').split(/:(.*)/s).slice(0, 2) as [string, string]),
    );
    expect(headers['x-paypath-merchant']).toBe('demo-shop');
    const parts = {
      method: 'POST',
      target: '/v1/payments',
      timestamp: Number(headers['x-paypath-timestamp']),
      nonce: headers['x-paypath-nonce']!,
      body: new TextEncoder().encode(body),
    };
    expect(
      await verifySignature(DEMO_MERCHANT_SECRET, parts, headers['x-paypath-signature']!),
    ).toBe(true);
  });

  it('serves HTTPS (TLS 1.2+) when given a certificate and a 0600 key', async () => {
    const policy = policyFrom(policyYaml(`{ file: "${keysFile(0o600)}" }`));
    const gateway = await startNodeGateway({
      policy,
      policyHash: 't',
      port: 0,
      logger: silent,
      warmCodePaths: false,
      tls: {
        certFile: fixtures.file('in.pem', fixtures.server.cert, 0o644),
        keyFile: fixtures.file('in-key.pem', fixtures.server.key),
      },
    });
    running.push(gateway);
    expect(gateway.url.startsWith('https://')).toBe(true);
    const agent = new Agent({ connect: { ca: fixtures.ca.cert, servername: 'localhost' } });
    try {
      const response = await undiciFetch(`${gateway.url}/healthz`, { dispatcher: agent });
      expect(response.status).toBe(200);
      const old = new Agent({
        connect: {
          ca: fixtures.ca.cert,
          servername: 'localhost',
          maxVersion: 'TLSv1.1',
          minVersion: 'TLSv1',
          ciphers: 'DEFAULT@SECLEVEL=0',
        },
      });
      // The server refuses the handshake (protocol_version alert): nothing below TLS 1.2.
      await expect(
        undiciFetch(`${gateway.url}/healthz`, { dispatcher: old }),
      ).rejects.toMatchObject({ cause: { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' } });
      await old.close();
    } finally {
      await agent.close();
    }
  });
});
