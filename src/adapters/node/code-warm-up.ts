import { createAdaptorServer } from '@hono/node-server';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { OpossumBreaker } from './opossum-breaker.ts';
import { Gateway } from '../../core/gateway.ts';
import type { Sha256Hex } from '../../core/idempotency/fingerprint.ts';
import { MemoryIdempotencyStore } from '../../core/idempotency/memory-store.ts';
import type { Policy } from '../../core/policy/schema.ts';
import { createApp } from '../../http/app.ts';
import { readIncomingBody } from './incoming-body.ts';
import { createLogger } from './logger.ts';
import { PrometheusMetrics } from './metrics.ts';
import { logRequest } from './ops.ts';
import { createUndiciTransport } from './undici-transport.ts';

/**
 * Requests run through the throwaway app, spread over the routes: enough for V8 to optimise the hot
 * path with its top compiler, which takes some 3,000 calls of a function (the next tier, after
 * about 400, runs it at up to a third more CPU). 2,000 against 1,000: BENCHMARKS.md, "Start-up
 * warm-up".
 */
const WARM_UP_REQUESTS = 2_000;
/** Start-up never waits longer than this for the warm-up (a slow or busy machine). */
const WARM_UP_MAX_MS = 4_000;
/** Requests in flight at once, so the code for several connections at a time is warm too. */
const WARM_UP_CONCURRENCY = 8;

/**
 * Runs requests through a throwaway copy of the app before the real app takes traffic. A fresh
 * process runs its request path in V8's interpreter at first: the first payments took 10–30 ms
 * instead of 3, those slow samples stretched the paths' adaptive timeouts for seconds, and at
 * 1,000 payments/s the first second cost a quarter more CPU than the next and queued up. So the
 * copy runs on real loopback sockets, like the real one: a client, the node:http server with the
 * Node body reader, the app with a request log and metrics of its own (both discarded), undici
 * transports, and an upstream on 127.0.0.1 that answers every request at once. Nothing leaves the
 * machine, and nothing of the real app (paths, breakers, stores, metrics, logs) is touched.
 * Resolves to the number of requests that went the whole way (a 2xx from the loopback upstream).
 */
export async function warmCodePaths(
  policy: Policy,
  sha256: Sha256Hex,
  requests = WARM_UP_REQUESTS,
): Promise<number> {
  const upstream = createServer((req, res) => {
    req.resume();
    req.once('end', () =>
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"status":"succeeded"}'),
    );
  });
  const upstreamUrl = `http://127.0.0.1:${await listen(upstream)}`;
  // No merchant keys, probes, shared state or alarms: only the code that every request runs.
  const rest = { ...policy, merchants: undefined };
  const gateway = new Gateway({
    policy: rest,
    policyHash: 'warm-up',
    transportFactory: (path) =>
      createUndiciTransport({
        ...path,
        upstream: upstreamUrl,
        bind: undefined,
        interface: undefined,
        tls: undefined,
      }),
    breakerFactory: (config) => new OpossumBreaker(config),
    fetch: async () => new Response(null, { status: 204 }),
  });
  const metrics = new PrometheusMetrics({
    budgets: () => [],
    status: () => gateway.status(),
    policy: () => ({ revision: 0, hash: 'warm-up', fileValid: true, alertBelow: 1 }),
    processMetrics: false,
  });
  const logger = createLogger({
    destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  const app = createApp({
    gateway: () => gateway,
    idempotencyStore: new MemoryIdempotencyStore(),
    sha256,
    readRequestBody: readIncomingBody,
    onRequest: (record) => {
      metrics.request(record);
      logRequest(logger, record);
    },
  });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // The client is node:http's: fetch would load a second HTTP client (Node's own undici and its WebAssembly parser) that stays resident.
  const port = await listen(server);
  const agent = new Agent({ keepAlive: true, maxSockets: WARM_UP_CONCURRENCY });
  const send = (
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
  ) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      });
      req.once('error', reject);
      req.end(body);
    });
  let answered2xx = 0;
  const stopAt = performance.now() + WARM_UP_MAX_MS;
  try {
    // The routes share most of their code: a long policy should not make start-up slow.
    const perRoute = Math.max(10, Math.ceil(requests / policy.routes.length));
    for (const route of policy.routes) {
      const path = route.match.path ?? `${route.match.pathPrefix!.replace(/\/$/, '')}/warm-up`;
      const hasBody = route.match.method !== 'GET' && route.match.method !== 'HEAD';
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < perRoute && performance.now() < stopAt; i = next++) {
          const headers = {
            'content-type': 'application/json',
            [route.idempotency.header]: `warm-up-${route.id}-${i}`,
          };
          const status = await send(
            route.match.method,
            path,
            headers,
            hasBody
              ? JSON.stringify({ amount: 1000, currency: 'KRW', reference: `warm-up-${i}` })
              : undefined,
          );
          if (status >= 200 && status < 300) answered2xx++;
        }
      };
      await Promise.all(Array.from({ length: WARM_UP_CONCURRENCY }, worker));
    }
  } finally {
    agent.destroy();
    await gateway.close();
    await Promise.all(
      [server, upstream].map(
        (s) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve))),
      ),
    );
  }
  return answered2xx;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
