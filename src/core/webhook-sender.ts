import {
  ExponentialBackoff,
  handleAll,
  noJitterGenerator,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import type { Logger } from './logger.ts';

export interface WebhookSenderOptions {
  /** Names the webhooks in the log line of a failed delivery, e.g. `redundancy`. */
  kind: string;
  /** Sent as the `user-agent` header, so receivers can tell paypath's webhooks apart. */
  userAgent: string;
  logger: Logger;
  /** Default: global fetch. */
  fetch?: typeof fetch;
  /** Delivery tries per webhook. Default: 6 (backoff 250 ms, 500 ms, … up to 8 s). */
  maxTries?: number;
  baseDelayMs?: number;
  /** Per-try timeout, in ms. Default: 2000. */
  timeoutMs?: number;
}

const MAX_DELAY_MS = 8_000;

/**
 * POSTs JSON to webhook URLs, each delivery on its own (never awaited by anything a payment waits
 * for), retried with exponential backoff after a network error, a non-2xx answer or a timeout.
 * A delivery that still fails is logged with the URL's origin only: the path or query of a
 * webhook URL often carries its secret.
 */
export class WebhookSender {
  readonly #options: WebhookSenderOptions;
  readonly #closing = new AbortController();
  readonly #policy;
  /** Deliveries in progress (tests and shutdown wait on them). */
  readonly pending = new Set<Promise<void>>();

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
    const { maxTries = 6, baseDelayMs = 250, timeoutMs = 2_000 } = options;
    this.#policy = wrap(
      retry(handleAll, {
        maxAttempts: maxTries - 1,
        backoff: new ExponentialBackoff({
          generator: noJitterGenerator,
          initialDelay: baseDelayMs,
          maxDelay: MAX_DELAY_MS,
        }),
      }),
      timeout(timeoutMs, TimeoutStrategy.Aggressive),
    );
  }

  /** Starts delivering `payload` to `url`; `fields` are added to the log line if it fails. */
  send(url: string, payload: unknown, fields: Record<string, unknown> = {}): void {
    const delivery = this.#deliver(url, JSON.stringify(payload), fields).finally(() =>
      this.pending.delete(delivery),
    );
    this.pending.add(delivery);
  }

  /** Ends every delivery now, between or during tries, without logging them as failed. */
  close(): void {
    this.#closing.abort();
  }

  async #deliver(url: string, body: string, fields: Record<string, unknown>): Promise<void> {
    const { kind, userAgent, logger } = this.#options;
    const doFetch = this.#options.fetch ?? fetch;
    let tries = 0;
    const outcome = this.#policy
      .execute(async ({ signal }) => {
        if (signal.aborted) throw new TaskCancelledError('closed');
        tries++;
        const response = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': userAgent },
          body,
          signal,
        });
        await response.body?.cancel().catch(() => {});
        if (!response.ok) throw new Error(`status ${response.status}`);
      }, this.#closing.signal)
      .then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    // The retry's backoff sleep cannot be interrupted, so on close the delivery ends here at once.
    let onClose = () => {};
    const closed = new Promise<undefined>((resolve) => {
      onClose = () => resolve(undefined);
      this.#closing.signal.addEventListener('abort', onClose, { once: true });
    });
    const error = await Promise.race([outcome, closed]);
    this.#closing.signal.removeEventListener('abort', onClose);
    if (error === undefined || this.#closing.signal.aborted) return;
    const failure = error instanceof TaskCancelledError ? 'timeout' : error.message;
    logger.error(
      { event: 'webhook_failed', kind, url: origin(url), tries, failure, ...fields },
      `${kind} webhook not delivered`,
    );
  }
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}
