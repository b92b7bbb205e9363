import type { Server, ServerResponse } from 'node:http';

export interface DrainResult {
  /** Requests still unanswered when the drain timed out; their connections were cut. */
  cut: number;
}

export interface GracefulClose {
  /** Requests received and not yet answered. */
  readonly inFlight: number;
  /**
   * Stops accepting connections, closes idle ones at once, and lets every request already received
   * finish (its answer says `Connection: close`). Whatever is still open after `timeoutMs` is cut.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
}

/**
 * A stop that does not cut payments in flight. Cutting the connection of a payment the processor
 * may already have charged leaves the client not knowing whether it was paid; a rolling restart
 * would do that to every payment under way. Call before the server takes requests.
 */
export function gracefulClose(server: Server): GracefulClose {
  const unanswered = new Set<ServerResponse>();
  let draining = false;
  server.on('request', (_req, res: ServerResponse) => {
    // Sent with `Connection: close`, and the connection ends after it: no new request on it.
    if (draining) res.shouldKeepAlive = false;
    unanswered.add(res);
    res.once('close', () => {
      unanswered.delete(res);
      // An answer whose headers had gone out before the drain began kept its connection alive;
      // it is idle once the answer is done (on the next turn), and then it is closed too.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });
  return {
    get inFlight() {
      return unanswered.size;
    },
    async drain(timeoutMs) {
      draining = true;
      for (const res of unanswered) if (!res.headersSent) res.shouldKeepAlive = false;
      // Also ends the connections idle right now.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      const cut = timedOut ? unanswered.size : 0;
      if (timedOut) {
        server.closeAllConnections();
        await closed;
      }
      return { cut };
    },
  };
}
