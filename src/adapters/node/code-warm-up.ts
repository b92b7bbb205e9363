import { OpossumBreaker } from '../../core/breaker/opossum-breaker.ts';
import { Gateway } from '../../core/gateway.ts';
import type { Sha256Hex } from '../../core/idempotency/fingerprint.ts';
import { MemoryIdempotencyStore } from '../../core/idempotency/memory-store.ts';
import type { Policy } from '../../core/policy/schema.ts';
import type { PathTransport } from '../../core/transport.ts';
import { createApp } from '../../http/app.ts';

/** Requests run through the throwaway app, spread over the routes: enough for V8 to compile the hot path. */
const WARM_UP_REQUESTS = 200;

/**
 * Runs requests through a throwaway copy of the app, whose paths answer at once in memory, before
 * the real app takes traffic. A fresh process runs its request path in V8's interpreter at first:
 * the first payments took 10–30 ms instead of 3, and those slow samples also stretched the paths'
 * adaptive attempt timeouts for seconds afterwards. Nothing leaves the process, and nothing of the
 * real app (paths, breakers, stores, metrics, logs) is touched. Resolves to the number of requests
 * that went the whole way (a 2xx from the in-memory paths).
 */
export async function warmCodePaths(policy: Policy, sha256: Sha256Hex, requests = WARM_UP_REQUESTS): Promise<number> {
  const answered: PathTransport = {
    send: async () => ({ status: 201, headers: new Headers({ 'content-type': 'application/json' }), body: new TextEncoder().encode('{"status":"succeeded"}') }),
    close: async () => {},
  };
  // No merchant keys, probes, shared state or alarms: only the code that every request runs.
  const rest = { ...policy, merchants: undefined };
  const gateway = new Gateway({
    policy: rest,
    policyHash: 'warm-up',
    transportFactory: () => answered,
    breakerFactory: (config) => new OpossumBreaker(config),
    fetch: async () => new Response(null, { status: 204 }),
  });
  const app = createApp({ gateway: () => gateway, idempotencyStore: new MemoryIdempotencyStore(), sha256 });
  let answered2xx = 0;
  try {
    // The routes share most of their code: a long policy should not make start-up slow.
    const perRoute = Math.max(10, Math.ceil(requests / policy.routes.length));
    for (const route of policy.routes) {
      const path = route.match.path ?? `${route.match.pathPrefix!.replace(/\/$/, '')}/warm-up`;
      const hasBody = route.match.method !== 'GET' && route.match.method !== 'HEAD';
      for (let i = 0; i < perRoute; i++) {
        const response = await app.request(`http://warm-up${path}`, {
          method: route.match.method,
          headers: { 'content-type': 'application/json', [route.idempotency.header]: `warm-up-${i}` },
          ...(hasBody ? { body: JSON.stringify({ amount: 1000, currency: 'KRW', reference: `warm-up-${i}` }) } : {}),
        });
        await response.arrayBuffer();
        if (response.ok) answered2xx++;
      }
    }
  } finally {
    await gateway.close();
  }
  return answered2xx;
}
