import { Hono, type Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { PaypathError } from '../../../core/errors.ts';
import type { Gateway } from '../../../core/gateway.ts';
import type { RequestRecord } from '../../../core/request-record.ts';
import { matchRoute } from '../../../core/routing.ts';
import { policyFrom } from '../../../../test/support/policy.ts';
import type { AppEnv } from '../../env.ts';
import { requestRoute } from '../../request-url.ts';
import { requestRecorder } from './index.ts';

const policy = policyFrom(`version: 1
paths:
  - { id: kt-fiber, upstream: "https://pay.example" }
routes:
  - { id: payments, match: { method: POST, path: /v1/payments }, class: payment, paths: [kt-fiber] }
`);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Handler = (c: Context<AppEnv>) => Response | Promise<Response>;

/**
 * A tiny app: a fake gateway that only matches routes (and counts how often), the recorder, an
 * error handler like the app's, and `handler` for every request.
 */
function setup(handler: Handler, options: { observer?: 'none' | 'throws' } = {}) {
  const records: RequestRecord[] = [];
  const matched = { count: 0 };
  const gateway = {
    matchRoute: (method: string, pathname: string) => {
      matched.count++;
      return matchRoute(policy.routes, method, pathname);
    },
  } as Partial<Gateway> as Gateway;
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('gateway', gateway);
    await next();
  });
  const onRequest =
    options.observer === 'none'
      ? undefined
      : (record: RequestRecord) => {
          records.push(record);
          if (options.observer === 'throws') throw new Error('observer failed');
        };
  app.use(requestRecorder(onRequest));
  app.onError((error) =>
    error instanceof PaypathError
      ? error.toResponse()
      : new PaypathError('internal_error', 500, 'internal error').toResponse(),
  );
  app.all('*', handler);
  return { app, records, matched };
}

/** A handler that answers for the payments route as the proxy would: route set, path headers. */
const forwarded =
  (status: number, headers: Record<string, string> = {}): Handler =>
  (c) => {
    c.set('route', 'payments');
    return new Response(null, { status, headers });
  };

const fromPath = { 'x-paypath-path': 'kt-fiber', 'x-paypath-attempts': '1' };

async function recordOf(handler: Handler, init: RequestInit = {}, path = '/v1/payments') {
  const { app, records } = setup(handler);
  const response = await app.request(path, { method: 'POST', ...init });
  expect(records).toHaveLength(1);
  return { response, record: records[0]! };
}

describe('request record', () => {
  it('keeps a short, tame client request id, and answers and reports it', async () => {
    for (const supplied of ['req-1', 'A.b_c:D-9', 'x'.repeat(128), `ord-${'1'.repeat(11)}`]) {
      let seen: string | undefined;
      const { response, record } = await recordOf(
        (c) => {
          seen = c.get('requestId');
          return c.text('ok');
        },
        { headers: { 'x-request-id': supplied } },
      );
      expect(seen).toBe(supplied);
      expect(response.headers.get('x-request-id')).toBe(supplied);
      expect(record.requestId).toBe(supplied);
    }
  });

  it('replaces a missing, long, odd or card-number-like request id with a fresh UUID, echoed nowhere', async () => {
    const rejected = [
      undefined,
      '',
      'x'.repeat(129),
      'has space',
      'a/b',
      'id<script>',
      '4111111111111111',
      `order-${'4'.repeat(12)}`,
    ];
    const ids = new Set<string>();
    for (const supplied of rejected) {
      const { response, record } = await recordOf(
        (c) => c.text('ok'),
        supplied === undefined ? {} : { headers: { 'x-request-id': supplied } },
      );
      const id = response.headers.get('x-request-id')!;
      expect(id).toMatch(UUID);
      expect(record.requestId).toBe(id);
      ids.add(id);
    }
    expect(ids.size).toBe(rejected.length);
  });

  it('reports a forwarded request: route and class, path, attempts, sizes, path name without the query', async () => {
    const { record } = await recordOf(
      forwarded(201, {
        'x-paypath-path': 'kt-fiber',
        'x-paypath-attempts': '2',
        'content-length': '0',
      }),
      { headers: { 'content-length': '15' }, body: '{"amount":4500}' },
      '/v1/payments?secret=1',
    );
    expect(record).toEqual({
      requestId: expect.stringMatching(UUID),
      method: 'POST',
      pathname: '/v1/payments',
      route: 'payments',
      routeClass: 'payment',
      path: 'kt-fiber',
      attempts: 2,
      status: 201,
      outcome: 'ok',
      durationMs: expect.any(Number),
      requestBytes: 15,
      responseBytes: 0,
      replayed: false,
    });
    expect(record.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('takes both sizes from content-length, and counts an unreadable one as 0', async () => {
    const sized = await recordOf(forwarded(201, { 'content-length': '42' }), {
      headers: { 'content-length': '2' },
      body: '{}',
    });
    expect(sized.record).toMatchObject({ requestBytes: 2, responseBytes: 42 });
    const odd = await recordOf(forwarded(201, { 'content-length': 'many' }), {
      headers: { 'content-length': 'some' },
    });
    expect(odd.record).toMatchObject({ requestBytes: 0, responseBytes: 0 });
  });

  it('names the outcome: ok, upstream_STATUS, http_STATUS, the error code, or internal_error', async () => {
    const noPath = new PaypathError('no_path_available', 503, 'no path', {
      details: { attempts: [{ path: 'kt-fiber' }, { path: 'skt-fiber' }, { path: 'lgu-lte' }] },
    });
    const cases: [Handler, { status: number; outcome: string; attempts: number }][] = [
      [forwarded(201, fromPath), { status: 201, outcome: 'ok', attempts: 1 }],
      // The processor's own 4xx is its definitive answer.
      [forwarded(422, fromPath), { status: 422, outcome: 'ok', attempts: 1 }],
      [forwarded(404, fromPath), { status: 404, outcome: 'ok', attempts: 1 }],
      [forwarded(502, fromPath), { status: 502, outcome: 'upstream_502', attempts: 1 }],
      [forwarded(429, fromPath), { status: 429, outcome: 'upstream_429', attempts: 1 }],
      // Answered by paypath itself (no path), e.g. /readyz or a route not found.
      [(c) => c.text('down', 503), { status: 503, outcome: 'http_503', attempts: 0 }],
      [(c) => c.text('no', 429), { status: 429, outcome: 'http_429', attempts: 0 }],
      [(c) => c.text('no route', 404), { status: 404, outcome: 'http_404', attempts: 0 }],
      [
        () => {
          throw noPath;
        },
        { status: 503, outcome: 'no_path_available', attempts: 3 },
      ],
      [
        () => {
          throw new PaypathError('body_too_large', 413, 'too large');
        },
        { status: 413, outcome: 'body_too_large', attempts: 0 },
      ],
      [
        () => {
          throw new Error('a bug');
        },
        { status: 500, outcome: 'internal_error', attempts: 0 },
      ],
    ];
    for (const [handler, expected] of cases) {
      const { response, record } = await recordOf(handler);
      expect(response.status).toBe(expected.status);
      expect(response.headers.get('x-request-id')).toBe(record.requestId);
      expect({ status: record.status, outcome: record.outcome, attempts: record.attempts }).toEqual(
        expected,
      );
    }
  });

  it('counts a stored answer (Idempotent-Replayed, no path) as replayed, and a processor replay not', async () => {
    const stored = await recordOf(forwarded(201, { 'idempotent-replayed': 'true' }));
    expect(stored.record).toMatchObject({ replayed: true, path: undefined, outcome: 'ok' });
    const processor = await recordOf(
      forwarded(201, { ...fromPath, 'idempotent-replayed': 'true' }),
    );
    expect(processor.record).toMatchObject({ replayed: false, path: 'kt-fiber' });
  });

  it("takes the route's class from the route this request matched, without matching again", async () => {
    const { app, records, matched } = setup((c) => {
      c.set('route', requestRoute(c)!.id);
      return c.text('ok', 201);
    });
    await app.request('/v1/payments', { method: 'POST' });
    expect(records[0]).toMatchObject({ route: 'payments', routeClass: 'payment' });
    expect(matched.count).toBe(1);
    const unrouted = setup((c) => c.text('ok'));
    await unrouted.app.request('/healthz');
    expect(unrouted.records[0]).toMatchObject({ route: undefined, routeClass: undefined });
    expect(unrouted.matched.count).toBe(0);
  });

  it('answers as usual when the observer throws, and without an observer', async () => {
    for (const observer of ['throws', 'none'] as const) {
      const { app } = setup(forwarded(201), { observer });
      const response = await app.request('/v1/payments', { method: 'POST' });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-request-id')).toMatch(UUID);
    }
  });
});
