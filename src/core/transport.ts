import type { PathConfig } from './policy/schema.ts';

/** What one attempt sends upstream. The body is buffered so the same bytes can go out on another path. */
export interface UpstreamRequest {
  method: string;
  /** Path and query relative to the path's upstream base, e.g. `/v1/payments?expand=charge`. */
  target: string;
  headers: Headers;
  body: Uint8Array | null;
}

/**
 * An upstream answer. A small answer (a payment's JSON) arrives whole, as bytes: one write to the
 * client, and a body that breaks off counts as a failed attempt rather than a truncated answer.
 * A large or unsized answer streams.
 */
export interface UpstreamResponse {
  status: number;
  headers: Headers;
  body: ReadableStream<Uint8Array> | Uint8Array | null;
}

/** Discards an answer's body (when failing over from it). */
export async function discardBody(response: UpstreamResponse): Promise<void> {
  if (response.body instanceof ReadableStream) await response.body.cancel().catch(() => {});
}

export interface AttemptOptions {
  /** Aborts the attempt (per-attempt timeout or deadline). The transport then rejects with an AttemptError. */
  signal: AbortSignal;
  /** Longest silence allowed between response body chunks, in ms. */
  bodyTimeoutMs: number;
}

/** Sends requests over one path. Rejects only with AttemptError, so the engine can tell what reached the wire. */
export interface PathTransport {
  send(request: UpstreamRequest, options: AttemptOptions): Promise<UpstreamResponse>;
  close(): Promise<void>;
  /**
   * Optional, for connect hedging: resolves once this path has an established connection (TCP, and
   * TLS where used) that the next `send` will use, without writing a byte of any request; rejects
   * with a `not_sent` AttemptError. Transports that cannot separate connecting from sending omit it.
   */
  connect?(signal: AbortSignal): Promise<void>;
  /** Optional: opens up to `count` connections ahead of use, so the first requests pay no handshake. */
  warm?(count: number): Promise<void>;
  /** Optional: the upstream address this path last connected to (to ask the kernel how it is reached). */
  upstreamAddress?(): string | undefined;
}

export type TransportFactory = (path: PathConfig) => PathTransport;
