/**
 * Why an attempt failed, named by what reached the wire (as undici's error codes do).
 * `not_sent`: no byte of the request left this box on that path, so any other path is safe.
 * `sent`: the request was written but no answer came; the processor may have acted on it.
 */
export type WireState = 'not_sent' | 'sent';

export type AttemptErrorCode =
  // not_sent
  | 'breaker_open'
  | 'connect_refused'
  | 'connect_timeout'
  | 'connect_reset'
  | 'tls_failed'
  | 'address_unavailable'
  | 'network_unreachable'
  | 'dns_failed'
  // sent
  | 'response_timeout'
  | 'connection_lost'
  | 'unexpected';

export class AttemptError extends Error {
  readonly code: AttemptErrorCode;
  readonly wire: WireState;

  constructor(
    code: AttemptErrorCode,
    wire: WireState,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'AttemptError';
    this.code = code;
    this.wire = wire;
  }
}
