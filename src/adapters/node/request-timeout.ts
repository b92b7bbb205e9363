import type { Server } from 'node:http';

/**
 * How often node:http looks for requests past their timeout, in ms. Node's default (30 s) let a
 * request trickle on up to 30 s past its limit.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

/**
 * A request (line, headers and body) must arrive whole within `timeoutMs` of its first byte, as
 * HAProxy's `timeout http-request`: node:http's requestTimeout, and its headersTimeout (which may
 * not exceed it) the same. Node then cuts the connection, answered by answerClientErrors (client-error.ts).
 */
export function applyRequestTimeout(server: Server, timeoutMs: number): void {
  server.requestTimeout = timeoutMs;
  server.headersTimeout = timeoutMs;
}
