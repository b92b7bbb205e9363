import { afterEach, describe, expect, it } from 'vitest';
import {
  BASE_POLICY,
  fakeUpstreamApp,
  type FakeUpstreamApp,
} from '../../../../test/support/fake-upstream-app.ts';
import { policyFrom } from '../../../../test/support/policy.ts';
import { MERCHANT_AUTH_HEADER_NAMES, signedHeaders } from './signature.ts';

const SECRET = 'k'.repeat(40);
const OTHER_SECRET = 'z'.repeat(40);
const keys = new Map([
  ['shop-1', SECRET],
  ['shop-2', OTHER_SECRET],
]);

function policy(merchants: string, routeExtra = ''): ReturnType<typeof policyFrom> {
  return policyFrom(
    `${BASE_POLICY.replace('    idempotency: { upstreamHonors: true }', `    idempotency: { upstreamHonors: true }\n${routeExtra}`)}\nmerchants:\n${merchants}`,
  );
}

const HMAC = `  mode: hmac\n  keys: { env: TEST_KEYS }\n  rateLimits: { shop-2: { ratePerSecond: 0.001, burst: 2 } }\n  failedAuth: { ratePerSecond: 0.001, burst: 5 }\n`;

let current: FakeUpstreamApp | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

const body = JSON.stringify({ amount: 4500, currency: 'KRW' });
let clockMs = 1_800_000_000_000;
let address = 0;

function setup(merchants = HMAC, routeExtra = ''): FakeUpstreamApp {
  clockMs = 1_800_000_000_000;
  address++; // a fresh client address per test, so failed-attempt buckets do not leak between tests
  current = fakeUpstreamApp(policy(merchants, routeExtra), {
    merchantKeys: () => keys,
    now: () => clockMs,
    clientAddress: () => `10.0.0.${address}`,
  });
  return current;
}

async function send(
  app: FakeUpstreamApp,
  headers: Record<string, string>,
  payload = body,
  path = '/v1/payments',
) {
  const response = await app.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: payload,
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as { error?: { code: string; message: string } },
  };
}

const sign = (
  merchant: string,
  secret: string,
  options: { timestamp?: number; nonce?: string; payload?: string; target?: string } = {},
) =>
  signedHeaders(
    merchant,
    secret,
    { method: 'POST', target: options.target ?? '/v1/payments', body: options.payload ?? body },
    {
      timestamp: options.timestamp ?? Math.floor(clockMs / 1000),
      nonce: options.nonce,
    },
  );

describe('merchant authentication (hmac)', () => {
  it('accepts a valid signature and does not forward the credentials upstream', async () => {
    const app = setup();
    const result = await send(app, await sign('shop-1', SECRET));
    expect(result.status).toBe(201);
    expect(app.forwarded).toHaveLength(1);
    for (const name of MERCHANT_AUTH_HEADER_NAMES)
      expect(app.forwarded[0]!.headers.has(name)).toBe(false);
    expect(new TextDecoder().decode(app.forwarded[0]!.body!)).toBe(body);
  });

  it('refuses a request without a signature: 401 auth_required', async () => {
    const app = setup();
    const result = await send(app, {});
    expect(result.status).toBe(401);
    expect(result.json.error?.code).toBe('auth_required');
    expect(result.headers.get('www-authenticate')).toContain('PaypathSignature');
    expect(app.forwarded).toHaveLength(0);
  });

  it('refuses a bad signature (wrong key, tampered body, tampered path, unknown merchant): 401 signature_invalid', async () => {
    const app = setup();
    const cases = [
      await sign('shop-1', OTHER_SECRET),
      { ...(await sign('shop-1', SECRET, { payload: '{"amount": 1}' })) },
      await sign('shop-1', SECRET, { target: '/v1/refunds' }),
      await sign('nobody', SECRET),
      { ...(await sign('shop-1', SECRET)), 'x-paypath-signature': 'v1=00' },
    ];
    for (const headers of cases) {
      const result = await send(app, headers);
      expect(result.status).toBe(401);
      expect(result.json.error?.code).toBe('signature_invalid');
    }
    expect(app.forwarded).toHaveLength(0);
  });

  it('refuses an expired signature (and one from the future) beyond ±300 s: 401 signature_expired', async () => {
    const app = setup();
    const now = Math.floor(clockMs / 1000);
    for (const timestamp of [now - 301, now + 301]) {
      const result = await send(app, await sign('shop-1', SECRET, { timestamp }));
      expect(result.status).toBe(401);
      expect(result.json.error?.code).toBe('signature_expired');
    }
    // Just inside the window passes.
    expect((await send(app, await sign('shop-1', SECRET, { timestamp: now - 299 }))).status).toBe(
      201,
    );
  });

  it('refuses a replayed request: 401 nonce_replayed, and the upstream sees it once', async () => {
    const app = setup();
    const headers = await sign('shop-1', SECRET);
    expect((await send(app, headers)).status).toBe(201);
    const replay = await send(app, headers);
    expect(replay.status).toBe(401);
    expect(replay.json.error?.code).toBe('nonce_replayed');
    expect(app.forwarded).toHaveLength(1);
  });

  it('refuses malformed headers: 401 auth_malformed', async () => {
    const app = setup();
    const good = await sign('shop-1', SECRET);
    const malformed: Record<string, string>[] = [
      { 'x-paypath-timestamp': 'yesterday' },
      { 'x-paypath-nonce': 'short' },
    ];
    for (const bad of malformed) {
      const result = await send(app, { ...good, ...bad });
      expect(result.status).toBe(401);
      expect(result.json.error?.code).toBe('auth_malformed');
    }
  });

  it('logs failed attempts without the secret or the signature', async () => {
    const app = setup();
    const headers = await sign('shop-1', OTHER_SECRET);
    await send(app, headers);
    const failures = app.logs.filter(
      (l) => (l.fields as { event?: string }).event === 'merchant_auth_failed',
    );
    expect(failures).toHaveLength(1);
    const text = JSON.stringify(app.logs);
    expect(text).toContain('shop-1');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(OTHER_SECRET);
    expect(text).not.toContain(headers['x-paypath-signature']!.slice(3));
  });

  it('never asks monitors to authenticate: /healthz and /status stay open even under a catch-all route', async () => {
    current = fakeUpstreamApp(
      policyFrom(
        `${BASE_POLICY}  - { id: everything, match: { method: GET, pathPrefix: / }, paths: [kt-fiber] }\nmerchants:\n${HMAC}`,
      ),
      { merchantKeys: () => keys },
    );
    expect((await current.app.request('/healthz')).status).toBe(200);
    expect((await current.app.request('/status')).status).toBe(200);
    expect((await current.app.request('/anything')).status).toBe(401);
  });

  it('keeps merchant secrets out of /status', async () => {
    const app = setup();
    await send(app, await sign('shop-1', SECRET));
    const status = await (await app.app.request('/status')).text();
    expect(status).not.toContain(SECRET);
    expect(status).not.toContain(OTHER_SECRET);
  });

  it('limits failed attempts per client: 429 auth_rate_limited with Retry-After, even for a then-valid request', async () => {
    const app = setup();
    for (let i = 0; i < 5; i++) expect((await send(app, {})).status).toBe(401);
    const throttled = await send(app, await sign('shop-1', SECRET));
    expect(throttled.status).toBe(429);
    expect(throttled.json.error?.code).toBe('auth_rate_limited');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers 429 rate_limited with Retry-After when a merchant is over its rate, without touching other merchants', async () => {
    const app = setup();
    expect((await send(app, await sign('shop-2', OTHER_SECRET))).status).toBe(201);
    expect((await send(app, await sign('shop-2', OTHER_SECRET))).status).toBe(201);
    const over = await send(app, await sign('shop-2', OTHER_SECRET));
    expect(over.status).toBe(429);
    expect(over.json.error?.code).toBe('rate_limited');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(app.forwarded).toHaveLength(2);
    expect((await send(app, await sign('shop-1', SECRET))).status).toBe(201);
  });

  it('leaves routes with auth: none, and every route of a policy without merchants, open', async () => {
    const open = setup(HMAC, '    auth: none\n');
    expect((await send(open, {})).status).toBe(201);
    await open.close();
    current = fakeUpstreamApp(policyFrom(BASE_POLICY));
    expect((await send(current, {})).status).toBe(201);
  });
});

describe('merchant authentication (api-key)', () => {
  const API = `  mode: api-key\n  keys: { env: TEST_KEYS }\n`;

  it('accepts the right key and refuses a wrong one, an unknown merchant or a missing key', async () => {
    const app = setup(API);
    expect(
      (await send(app, { 'x-paypath-merchant': 'shop-1', 'x-paypath-api-key': SECRET })).status,
    ).toBe(201);
    for (const headers of [
      { 'x-paypath-merchant': 'shop-1', 'x-paypath-api-key': OTHER_SECRET },
      { 'x-paypath-merchant': 'nobody', 'x-paypath-api-key': SECRET },
    ]) {
      const result = await send(app, headers);
      expect(result.status).toBe(401);
      expect(result.json.error?.code).toBe('signature_invalid');
    }
    const missing = await send(app, { 'x-paypath-merchant': 'shop-1' });
    expect(missing.json.error?.code).toBe('auth_required');
    expect(app.forwarded).toHaveLength(1);
    expect(app.forwarded[0]!.headers.has('x-paypath-api-key')).toBe(false);
  });
});
