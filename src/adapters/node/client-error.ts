import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { PaypathError } from '../../core/errors.ts';
import type { Gateway } from '../../core/gateway.ts';
import { idempotencyKey } from '../../http/middleware/idempotency/key.ts';

interface ParserError extends Error {
  code?: string;
  /** The bytes Node was parsing when it gave up (the request line and headers read so far). */
  rawPacket?: Buffer;
}

/**
 * Answers requests that Node's HTTP parser refuses before the app sees them. Node's own answer to
 * a header block over `maxHeaderSize` is a bare 431; paypath's is the same JSON error the app gives
 * (`headers_too_large`) with the route's idempotency key, so a client can retry under it. The key
 * is read from the bytes the parser had, which hold the request line and the headers up to the
 * overflow: a key sent after that point is not seen, and then one is generated as for any keyless
 * request (not for routes that require a key).
 */
export function answerClientErrors(server: Server, gateway: () => Gateway): void {
  server.on('clientError', (error: ParserError, socket: Socket) => {
    // As Node does: nothing to answer on a reset or closed socket, nor once an answer has started on it.
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })
      ._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    // Then closed, not only half-closed: a client still trickling its request must not keep the connection.
    socket.end(clientErrorResponse(error, gateway()), () => socket.destroy());
  });
}

/** The whole HTTP/1.1 response (Connection: close) for a request the parser refused. */
export function clientErrorResponse(error: ParserError, gateway: Gateway): string {
  const limit = gateway.policy.limits.maxHeaderBytes;
  const timeoutMs = gateway.policy.limits.requestTimeoutMs;
  const refusal =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new PaypathError(
          'headers_too_large',
          431,
          `request headers exceed the limit of ${limit} bytes`,
          { details: { limit } },
        )
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? // node:http's requestTimeout, set from limits.requestTimeoutMs (request-timeout.ts).
          new PaypathError(
            'request_timeout',
            408,
            `the request did not arrive whole within limits.requestTimeoutMs (${timeoutMs} ms); the connection is closed`,
            { details: { limit: timeoutMs } },
          )
        : new PaypathError(
            'invalid_request',
            400,
            `malformed HTTP request (${error.code ?? 'parse error'})`,
          );
  const body = JSON.stringify(refusal.toJSON());
  const key = refusal.status === 431 && error.rawPacket ? keyHeader(error.rawPacket, gateway) : '';
  const reason =
    refusal.status === 431
      ? 'Request Header Fields Too Large'
      : refusal.status === 408
        ? 'Request Timeout'
        : 'Bad Request';
  return `HTTP/1.1 ${refusal.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${key}connection: close\r\n\r\n${body}`;
}

/** `Name: key\r\n` for the route of the request in `raw`, or '' when there is no route or no usable key. */
function keyHeader(raw: Buffer, gateway: Gateway): string {
  const text = raw.toString('latin1');
  const requestLine = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/.exec(text);
  if (!requestLine) return '';
  try {
    const route = gateway.matchRoute(
      requestLine[1]!,
      new URL(requestLine[2]!, 'http://request').pathname,
    );
    if (!route) return '';
    const name = route.idempotency.header;
    // The header name is [A-Za-z0-9-] (policy schema); only a whole line counts, not one cut off.
    const sent = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*?)[ \\t]*\\r\\n`, 'i').exec(
      text.slice(requestLine[0].length - 2),
    );
    const headers = new Headers(sent ? { [name]: sent[1]! } : {});
    // Validated there: printable ASCII only, so it cannot break the response.
    return `${name}: ${idempotencyKey(route, headers).key}\r\n`;
  } catch {
    return ''; // an invalid key, or a route that requires one: nothing to give back
  }
}
