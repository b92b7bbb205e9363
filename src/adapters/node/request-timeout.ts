import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How often node:http looks for requests past their timeout, in ms. Node's default (30 s) let a
 * request trickle on up to 30 s past its limit.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

/**
 * A request (line, headers and body) must arrive whole within `timeoutMs` of its first byte, as
 * HAProxy's `timeout http-request`: node:http's requestTimeout, and its headersTimeout (which may
 * not exceed it) the same. Node then cuts the connection; see answerClientErrors for the answer.
 */
export function applyRequestTimeout(server: Server, timeoutMs: number): void {
  server.requestTimeout = timeoutMs;
  server.headersTimeout = timeoutMs;
}

const REQUEST_TIMEOUT_BODY = JSON.stringify({
  error: { code: 'request_timeout', message: 'the request did not arrive whole within limits.requestTimeoutMs; the connection is closed' },
});

/** What node:http writes itself for its other client errors (kept as it is). */
const NODE_DEFAULT_ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/**
 * A request cut for its timeout is answered `408 request_timeout` in paypath's JSON error shape
 * (node:http's own 408 has no body, so a client could not tell it from a proxy's); every other
 * client error as node:http answers it. Nothing is written once an answer has begun.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && inFlight?.headersSent !== true) {
      if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        socket.write(
          `HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(REQUEST_TIMEOUT_BODY)}\r\nConnection: close\r\n\r\n${REQUEST_TIMEOUT_BODY}`,
        );
      } else if (error.code !== 'ECONNRESET') {
        socket.write(NODE_DEFAULT_ANSWERS[error.code ?? ''] ?? BAD_REQUEST);
      }
    }
    socket.destroy(error);
  });
}
