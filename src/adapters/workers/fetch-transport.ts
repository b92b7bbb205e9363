import { AttemptError } from '../../core/attempt-error.ts';
import type { PathConfig } from '../../core/policy/schema.ts';
import type { PathTransport } from '../../core/transport.ts';

/**
 * A PathTransport over the runtime's fetch (Cloudflare Workers, where undici cannot run). fetch
 * does not say whether any byte was written before it failed, so a failure is "not sent" only when
 * the error says the connection was never made; anything else, a timeout included, counts as
 * "sent": ambiguous, retried only under the same idempotency key on routes whose processor
 * honours keys. At the edge there is no source binding: each path is a distinct endpoint.
 */
export function createFetchTransport(
  path: PathConfig,
  fetchImpl: typeof fetch = fetch,
): PathTransport {
  const base = path.upstream.replace(/\/$/, '');
  return {
    async send(request, attempt) {
      try {
        const response = await fetchImpl(base + request.target, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal: attempt.signal,
          redirect: 'manual',
        });
        return {
          status: response.status,
          headers: new Headers(response.headers),
          body: response.body,
        };
      } catch (error) {
        throw classifyFetchError(error, attempt.signal);
      }
    },
    close: async () => {},
  };
}

const NOT_CONNECTED =
  /ECONNREFUSED|connection refused|ENOTFOUND|EAI_AGAIN|EADDRNOTAVAIL|ENETUNREACH|EHOSTUNREACH|DNS lookup failed/i;

export function classifyFetchError(error: unknown, signal: AbortSignal): AttemptError {
  const message =
    error instanceof Error ? `${error.name}: ${error.message}${causeText(error)}` : String(error);
  if (signal.aborted)
    return new AttemptError(
      'response_timeout',
      'sent',
      `no answer before the attempt timeout (${message})`,
      { cause: error },
    );
  if (NOT_CONNECTED.test(message))
    return new AttemptError('connect_refused', 'not_sent', message, { cause: error });
  return new AttemptError('connection_lost', 'sent', message, { cause: error });
}

function causeText(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) return ` (${(cause as { code?: string }).code ?? cause.message})`;
  return '';
}
