import type { Context } from 'hono';
import type { Gateway } from '../core/gateway.ts';
import type { RouteConfig } from '../core/policy/schema.ts';
import type { UpstreamRequest } from '../core/transport.ts';
import type { BodyAllowance } from './body-allowance.ts';

/**
 * Reads a request's body under a limit, taking its bytes from the request's share of the process's
 * body budget. The default reads the Web Request; a runtime may read its own stream.
 */
export type RequestBodyReader = (
  c: Context,
  maxBytes: number,
  allowance: BodyAllowance,
) => Promise<Uint8Array | null>;

/** What every request carries through the app's middleware (`c.get(…)`). */
export type AppEnv = {
  Variables: {
    gateway: Gateway;
    route: string | undefined;
    /** How this runtime reads a request body (see middleware/request-body/index.ts). */
    readRequestBody: RequestBodyReader;
    /** This request's share of the process's request-body budget, given back when the request ends. */
    bodyAllowance: BodyAllowance;
    /** The request body once read (see middleware/request-body/index.ts); undefined until then. */
    requestBody: Uint8Array | null | undefined;
    /** The authenticated merchant, when the route requires merchant authentication. */
    merchant: string | undefined;
    /** Set by the request recorder (x-request-id). */
    requestId: string;
    /** The parsed request URL, once something asked for it (see request-url.ts). */
    url: URL | undefined;
    /** The policy route of this request once matched (see request-url.ts); null when none matches. */
    policyRoute: RouteConfig | null | undefined;
  };
};

/** What the proxy knows about a request once its route, key and body are settled. */
export interface ProxyRequest {
  route: RouteConfig;
  idempotencyKey: string;
  /** True when the client sent no key and the gateway made one up. */
  generatedKey: boolean;
  /** The request as it goes upstream (buffered body, hop-by-hop headers removed). */
  upstream: UpstreamRequest;
}

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

/** The proxy's middleware chain shares the request through `c.get('proxy')`. */
export type ProxyEnv = {
  Variables: AppEnv['Variables'] & { proxy: ProxyRequest; answer: ProxyAnswer | undefined };
};
