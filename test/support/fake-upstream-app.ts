// An app built with createApp and a fake transport: no sockets, so unit and fuzz tests can push
// thousands of requests through the real middleware and proxy route.
import { OpossumBreaker } from '../../src/adapters/node/opossum-breaker.ts';
import { Gateway } from '../../src/core/gateway.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import type { PathTransport, UpstreamRequest } from '../../src/core/transport.ts';
import { createApp, type SecurityDeps } from '../../src/http/app.ts';

export interface FakeUpstreamApp {
  app: ReturnType<typeof createApp>;
  gateway: Gateway;
  /** Every request that reached the (fake) upstream, in order. */
  forwarded: UpstreamRequest[];
  logs: { level: string; fields: object; message: string | undefined }[];
  close(): Promise<void>;
}

/** The fake upstream answers 201 with a small JSON body for every request. */
export function fakeUpstreamApp(policy: Policy, security: SecurityDeps = {}): FakeUpstreamApp {
  const forwarded: UpstreamRequest[] = [];
  const logs: FakeUpstreamApp['logs'] = [];
  const logger: Logger = {
    info: (fields, message) => logs.push({ level: 'info', fields, message }),
    warn: (fields, message) => logs.push({ level: 'warn', fields, message }),
    error: (fields, message) => logs.push({ level: 'error', fields, message }),
  };
  const transport = (): PathTransport => ({
    send: (request) => {
      forwarded.push(request);
      return Promise.resolve({
        status: 201,
        headers: new Headers({ 'content-type': 'application/json' }),
        body: new Blob([JSON.stringify({ id: `ch_${forwarded.length}` })]).stream(),
      });
    },
    close: () => Promise.resolve(),
  });
  const gateway = new Gateway({
    policy,
    policyHash: 'test',
    transportFactory: transport,
    breakerFactory: (config) => new OpossumBreaker(config),
  });
  const app = createApp({ gateway: () => gateway, logger, security });
  return { app, gateway, forwarded, logs, close: () => gateway.close() };
}

export const BASE_POLICY = `
version: 1
paths:
  - { id: kt-fiber, upstream: "http://127.0.0.1:9" }
  - { id: skt-fiber, upstream: "http://127.0.0.1:9" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    class: payment
    paths: [kt-fiber, skt-fiber]
    idempotency: { upstreamHonors: true }
  - id: lookup
    match: { method: GET, pathPrefix: /v1/payments/ }
    class: query
    paths: [kt-fiber]
`;
