import type { Dispatcher } from 'undici';
import { AttemptError, type AttemptErrorCode } from '../../core/attempt-error.ts';
import type { AttemptOptions, UpstreamRequest, UpstreamResponse } from '../../core/transport.ts';

/** Answers up to this size are taken whole before they are passed on; larger ones stream. */
const BUFFERED_BODY_LIMIT = 65_536;

/** Sends one attempt on `dispatcher` and settles with the answer or an AttemptError saying what reached the wire. */
export function dispatch(
  dispatcher: Dispatcher,
  origin: string,
  target: string,
  request: UpstreamRequest,
  attempt: AttemptOptions,
): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const handler = new AttemptHandler(resolve, reject, attempt.signal);
    dispatcher.dispatch(
      {
        origin,
        path: target,
        method: request.method as Dispatcher.HttpMethod,
        headers,
        body:
          request.body === null
            ? null
            : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength),
        bodyTimeout: attempt.bodyTimeoutMs,
      },
      handler,
    );
  });
}

/**
 * Follows one request through undici's dispatch hooks. `onRequestStart` runs just before the
 * first byte is written, which is what separates "not sent" from "sent" when something fails.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  #sent = false;
  #settled = false;
  #controller: Dispatcher.DispatchController | undefined;
  #stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  #buffered: { status: number; headers: Headers; chunks: Buffer[]; length: number } | undefined;
  readonly #signal: AbortSignal;
  readonly #onAbort = () => this.#abort();
  readonly #resolve: (response: UpstreamResponse) => void;
  readonly #reject: (error: AttemptError) => void;

  constructor(
    resolve: (response: UpstreamResponse) => void,
    reject: (error: AttemptError) => void,
    signal: AbortSignal,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    if (signal.aborted) queueMicrotask(this.#onAbort);
    else signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#settled) {
      controller.abort(new Error('attempt already given up'));
      return;
    }
    this.#sent = true;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx informational: wait for the final answer
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(headers)) {
      if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
      else if (value !== undefined) responseHeaders.append(name, value);
    }
    const length = Number(headers['content-length'] ?? NaN);
    this.#buffered = { status: statusCode, headers: responseHeaders, chunks: [], length: 0 };
    if (length > BUFFERED_BODY_LIMIT) this.#startStreaming(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // undici's resume() feeds the parser an empty buffer; passing that on would pause again at once, for ever.
    if (chunk.byteLength === 0) return;
    const buffered = this.#buffered;
    if (buffered && !this.#stream) {
      buffered.chunks.push(chunk);
      buffered.length += chunk.byteLength;
      if (buffered.length > BUFFERED_BODY_LIMIT) this.#startStreaming(controller);
      return;
    }
    const stream = this.#stream;
    if (!stream) return;
    stream.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((stream.desiredSize ?? 0) <= 0) controller.pause();
  }

  /** A large answer: pass the headers on now and stream the body, with what arrived so far first. */
  #startStreaming(controller: Dispatcher.DispatchController): void {
    const buffered = this.#buffered!;
    this.#signal.removeEventListener('abort', this.#onAbort);
    const body = new ReadableStream<Uint8Array>(
      {
        start: (stream) => {
          this.#stream = stream;
          for (const chunk of buffered.chunks) stream.enqueue(chunk);
          buffered.chunks = [];
        },
        pull: () => controller.resume(),
        cancel: (reason) =>
          controller.abort(reason instanceof Error ? reason : new Error('response body cancelled')),
      },
      { highWaterMark: 1 },
    );
    this.#settle(() => this.#resolve({ status: buffered.status, headers: buffered.headers, body }));
  }

  onResponseEnd(): void {
    const buffered = this.#buffered;
    if (buffered && !this.#stream) {
      this.#signal.removeEventListener('abort', this.#onAbort);
      const body =
        buffered.chunks.length === 1
          ? buffered.chunks[0]!
          : Buffer.concat(buffered.chunks, buffered.length);
      this.#settle(() =>
        this.#resolve({
          status: buffered.status,
          headers: buffered.headers,
          body: buffered.length === 0 ? null : body,
        }),
      );
      return;
    }
    this.#stream?.close();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (this.#stream) {
      // Headers were already passed on: the body breaks off, the client sees a truncated response.
      this.#stream.error(error);
      return;
    }
    this.#settle(() => this.#reject(classify(error, this.#sent)));
  }

  #abort(): void {
    const sent = this.#sent;
    this.#settle(() =>
      this.#reject(
        sent
          ? new AttemptError('response_timeout', 'sent', 'no response before the attempt timeout')
          : new AttemptError(
              'connect_timeout',
              'not_sent',
              'not connected before the attempt timeout',
            ),
      ),
    );
    this.#controller?.abort(new Error('attempt timed out'));
  }

  #settle(action: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    action();
  }
}

const NOT_SENT_CODES: Record<string, AttemptErrorCode> = {
  ECONNREFUSED: 'connect_refused',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ETIMEDOUT: 'connect_timeout',
  EADDRNOTAVAIL: 'address_unavailable',
  ENETUNREACH: 'network_unreachable',
  EHOSTUNREACH: 'network_unreachable',
  ENOTFOUND: 'dns_failed',
  EAI_AGAIN: 'dns_failed',
};

/**
 * Node's TLS errors (ERR_TLS_*, ERR_SSL_*) and OpenSSL's certificate verification codes
 * (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, HOSTNAME_MISMATCH, INVALID_CA, ...).
 */
export const TLS_ERROR_CODE =
  /^ERR_(TLS|SSL)_|CERT|CRL|SELF_SIGNED|^UNABLE_TO_|^INVALID_(CA|PURPOSE)$|^PATH_LENGTH_EXCEEDED$|^HOSTNAME_MISMATCH$/;

/** Maps an undici/socket error to what reached the wire. Before onRequestStart, nothing did. */
export function classify(error: Error, sent: boolean): AttemptError {
  const code = (error as { code?: string }).code ?? '';
  if (!sent) {
    const mapped =
      NOT_SENT_CODES[code] ?? (TLS_ERROR_CODE.test(code) ? 'tls_failed' : 'connect_reset');
    return new AttemptError(mapped, 'not_sent', `${code || error.name}: ${error.message}`, {
      cause: error,
    });
  }
  const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
  return new AttemptError(
    timeout ? 'response_timeout' : 'connection_lost',
    'sent',
    `${code || error.name}: ${error.message}`,
    { cause: error },
  );
}
