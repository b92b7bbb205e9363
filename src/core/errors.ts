/**
 * The one error type paypath answers with. Every error a client can see has a stable `code`
 * (documented in the README) and an HTTP status; `details` carries machine-readable context.
 */
export type ErrorCode =
  | 'no_path_available'
  | 'outcome_unknown'
  | 'deadline_exceeded'
  | 'route_not_found'
  | 'body_too_large'
  | 'body_budget_exhausted'
  | 'request_timeout'
  | 'request_incomplete'
  | 'invalid_request'
  | 'idempotency_key_invalid'
  | 'idempotency_key_required'
  | 'idempotency_key_in_use'
  | 'idempotency_key_reused'
  | 'idempotency_answer_not_stored'
  | 'queue_floor_limit_exceeded'
  | 'queue_exposure_cap_exceeded'
  | 'queue_merchant_required'
  | 'queue_amount_required'
  | 'queue_full'
  | 'queue_unavailable'
  | 'queue_key_missing'
  | 'queue_entry_not_found'
  | 'internal_error'
  // admin API (docs/ops.md)
  | 'admin_unauthenticated'
  | 'admin_forbidden'
  | 'policy_invalid'
  | 'upstream_not_allowed'
  | 'precondition_required'
  | 'policy_stale'
  | 'policy_revision_not_found'
  | 'path_not_found'
  | 'drill_refused'
  | 'drill_running'
  | 'admin_rate_limited'
  | 'policy_too_complex'
  // merchant authentication and input limits (docs/security.md)
  | 'auth_required'
  | 'auth_malformed'
  | 'signature_invalid'
  | 'signature_expired'
  | 'nonce_replayed'
  | 'auth_rate_limited'
  | 'rate_limited'
  | 'unsupported_media_type'
  | 'json_too_deep'
  | 'headers_too_large';

export class PaypathError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    options: {
      details?: Record<string, unknown>;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'PaypathError';
    this.code = code;
    this.status = status;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
  }

  /** The JSON body clients receive: `{ error: { code, message, ...details } }`. */
  toJSON(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }

  toResponse(extraHeaders: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(this.toJSON()), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers, ...extraHeaders },
    });
  }
}
