/**
 * An attempt's timeout as an AbortSignal that is aborted `ms` from now, but only after the event
 * loop has had one more turn to read sockets. A timer that fires late because the loop was busy
 * (a GC pause, a burst of work) may find the answer already waiting unread; aborting at once would
 * fail an attempt that in fact succeeded, and with short adaptive timeouts that would turn every
 * pause into retries. The extra turn costs about a millisecond on a real timeout.
 * Call `dispose()` when the attempt settles, so no timer outlives it.
 */
export class AttemptTimer {
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number) {
    this.#timer = setTimeout(() => {
      this.#timer = setTimeout(
        () => this.#controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')),
        0,
      );
    }, ms);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Gives up now, before the timeout (the path fell silent: see SilenceWatch). */
  giveUp(reason: string): void {
    clearTimeout(this.#timer);
    this.#controller.abort(new DOMException(reason, 'TimeoutError'));
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }
}
