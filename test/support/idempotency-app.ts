// A gateway and app with the idempotency middleware over two fake paths, for the middleware's tests.
import { TimestampBreaker } from '../../src/core/breaker/timestamp-breaker.ts';
import { Gateway } from '../../src/core/gateway.ts';
import { MemoryIdempotencyStore } from '../../src/core/idempotency/memory-store.ts';
import type { IdempotencyStore } from '../../src/core/idempotency/store.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import type { UpstreamRequest, UpstreamResponse } from '../../src/core/transport.ts';
import { createApp } from '../../src/http/app.ts';
import { policyFromObject } from './policy.ts';

export type Upstream = (request: UpstreamRequest, pathId: string) => Promise<UpstreamResponse>;

function policy(
  idempotency: Record<string, unknown> = {},
  idempotencyStore: Record<string, unknown> = {},
): Policy {
  return policyFromObject({
    version: 1,
    idempotencyStore,
    paths: [
      { id: 'a', upstream: 'http://127.0.0.1:1' },
      { id: 'b', upstream: 'http://127.0.0.1:2' },
    ],
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: ['a', 'b'],
        idempotency,
      },
    ],
  });
}

export function idempotencyApp(options: {
  upstream: Upstream;
  store?: IdempotencyStore;
  idempotency?: Record<string, unknown>;
  idempotencyStore?: Record<string, unknown>;
}) {
  const sent: { pathId: string; key: string | null; method: string; target: string }[] = [];
  const gateway = new Gateway({
    policy: policy(options.idempotency, options.idempotencyStore),
    policyHash: 'test',
    breakerFactory: (config) => new TimestampBreaker(config),
    transportFactory: (path) => ({
      send: (request) => {
        sent.push({
          pathId: path.id,
          key: request.headers.get('idempotency-key'),
          method: request.method,
          target: request.target,
        });
        return options.upstream(request, path.id);
      },
      close: async () => {},
    }),
  });
  const store = options.store ?? new MemoryIdempotencyStore();
  const app = createApp({ gateway: () => gateway, idempotencyStore: store });
  const pay = (key: string | undefined, body: string) =>
    app.request('/v1/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body,
    });
  return { app, gateway, sent, pay, store };
}

let charges = 0;
/** A processor that charges every request it gets (201 with a new charge id). */
export const charge: Upstream = async () =>
  new Response(JSON.stringify({ id: `ch_${++charges}`, status: 'succeeded' }), {
    status: 201,
    headers: {
      'content-type': 'application/json',
      location: '/v1/payments/x',
      'x-secret-upstream': 'not replayed',
    },
  }) as UpstreamResponse;
