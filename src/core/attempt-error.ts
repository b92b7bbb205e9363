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

/** Whether a failed call was excused as not its path's fault (AttemptError.countsAgainstPath false): no breaker counts it as a failure. */
export function isExcusedFailure(error: unknown): boolean {
  return (error as { countsAgainstPath?: boolean } | undefined)?.countsAgainstPath === false;
}

export class AttemptError extends Error {
  readonly code: AttemptErrorCode;
  readonly wire: WireState;
  /**
   * Set to false when this failure should not count against the path's breaker, e.g. a response
   * timeout while no other path answered either (the processor or this box is slow, not the path).
   */
  countsAgainstPath?: boolean;

  constructor(code: AttemptErrorCode, wire: WireState, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'AttemptError';
    this.code = code;
    this.wire = wire;
  }
}
