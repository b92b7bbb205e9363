import { afterEach, describe, expect, it } from 'vitest';
import {
  BASE_POLICY,
  fakeUpstreamApp,
  type FakeUpstreamApp,
} from '../../../../test/support/fake-upstream-app.ts';
import { policyFrom } from '../../../../test/support/policy.ts';
import { jsonDepthExceeds } from './index.ts';

let current: FakeUpstreamApp | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function setup(): FakeUpstreamApp {
  const policy = policyFrom(
    `${BASE_POLICY.replace('    idempotency: { upstreamHonors: true }', '    idempotency: { upstreamHonors: true }\n    contentTypes: [application/json]\n    maxBodyBytes: 1024')}\nlimits: { maxJsonDepth: 4, maxHeaderBytes: 2048 }\n`,
  );
  current = fakeUpstreamApp(policy);
  return current;
}

async function post(
  app: FakeUpstreamApp,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const response = await app.app.request('/v1/payments', { method: 'POST', headers, body });
  return {
    status: response.status,
    code:
      response.status >= 400
        ? ((await response.json()) as { error: { code: string } }).error.code
        : undefined,
  };
}

describe('input limits', () => {
  it('jsonDepthExceeds counts nesting outside strings only', () => {
    expect(jsonDepthExceeds(new TextEncoder().encode('[[[[1]]]]'), 4)).toBe(false);
    expect(jsonDepthExceeds(new TextEncoder().encode('[[[[[1]]]]]'), 4)).toBe(true);
    expect(jsonDepthExceeds(new TextEncoder().encode('{"a":"[[[[[[[[\\"[[[["}'), 4)).toBe(false);
  });

  it('passes a normal JSON payment', async () => {
    expect(await post(setup(), '{"amount": 4500, "meta": {"a": [1]}}')).toEqual({
      status: 201,
      code: undefined,
    });
  });

  it('refuses JSON nested deeper than the limit: 400 json_too_deep, nothing forwarded', async () => {
    const app = setup();
    expect(await post(app, '{"a":{"b":{"c":{"d":{"e":1}}}}}')).toEqual({
      status: 400,
      code: 'json_too_deep',
    });
    expect(app.forwarded).toHaveLength(0);
  });

  it('refuses a content type the route does not accept, and a body without one: 415', async () => {
    const app = setup();
    expect(
      await post(app, 'amount=1', { 'content-type': 'application/x-www-form-urlencoded' }),
    ).toEqual({ status: 415, code: 'unsupported_media_type' });
    expect(await post(app, '{}', {})).toEqual({ status: 415, code: 'unsupported_media_type' });
    expect(await post(app, '{}', { 'content-type': 'application/json; charset=utf-8' })).toEqual({
      status: 201,
      code: undefined,
    });
  });

  it('refuses oversized headers (431) and bodies (413)', async () => {
    const app = setup();
    expect(
      await post(app, '{}', { 'content-type': 'application/json', 'x-big': 'x'.repeat(3000) }),
    ).toEqual({ status: 431, code: 'headers_too_large' });
    expect(await post(app, JSON.stringify({ pad: 'x'.repeat(2000) }))).toEqual({
      status: 413,
      code: 'body_too_large',
    });
    expect(app.forwarded).toHaveLength(0);
  });

  it("gives the route's idempotency key back on errors raised before the proxy (431, 413, 415)", async () => {
    const app = setup();
    const cases: [Record<string, string>, string, number][] = [
      [
        {
          'content-type': 'application/json',
          'idempotency-key': 'k-431',
          'x-big': 'x'.repeat(3000),
        },
        '{}',
        431,
      ],
      [
        { 'content-type': 'application/json', 'idempotency-key': 'k-413' },
        JSON.stringify({ pad: 'x'.repeat(2000) }),
        413,
      ],
      [{ 'content-type': 'text/plain', 'idempotency-key': 'k-415' }, 'x', 415],
    ];
    for (const [headers, body, status] of cases) {
      const response = await app.app.request('/v1/payments', { method: 'POST', headers, body });
      expect(response.status).toBe(status);
      expect(response.headers.get('idempotency-key')).toBe(headers['idempotency-key']);
    }
    // Without a key, one is generated, as on every other answer of the route.
    const keyless = await app.app.request('/v1/payments', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(keyless.headers.get('idempotency-key')).toMatch(/^pp_/);
    expect(app.forwarded).toHaveLength(0);
  });
});
