import type { RouteConfig } from '../core/policy/schema.ts';
import type { UpstreamRequest } from '../core/transport.ts';
import type { AppEnv } from './app.ts';

/** What the proxy knows about a request once its route, key and body are settled. */
export interface ProxyRequest {
  route: RouteConfig;
  idempotencyKey: string;
  /** True when the client sent no key and the gateway made one up. */
  generatedKey: boolean;
  /** The request as it goes upstream (buffered body, hop-by-hop headers removed). */
  upstream: UpstreamRequest;
}

/** The proxy's middleware chain shares the request through `c.get('proxy')`. */
export type ProxyEnv = { Variables: AppEnv['Variables'] & { proxy: ProxyRequest; answer: ProxyAnswer | undefined } };

/**
 * The answer the proxy built from a whole upstream body (bytes), with those bytes. Middleware that
 * needs an answer's bytes (idempotency, to store it) takes them from here instead of reading the
 * Response again: reading it made the server adapter build a full Web Response and stream for
 * every payment (about 7 % of the gateway's CPU).
 */
export interface ProxyAnswer {
  response: Response;
  bytes: Uint8Array;
}
