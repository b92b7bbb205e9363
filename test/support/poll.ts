// Waiting in tests: every wait has an explicit timeout and a failure that names what was awaited.

export interface PollOptions {
  /** Give up after this long. No default: each wait says how long it is worth waiting. */
  timeoutMs: number;
  /** Time between checks. Default: 50 ms. */
  intervalMs?: number;
  /** Where things stood, added to the failure (e.g. the gateway's /status). */
  state?: () => unknown;
}

/** For vitest's `expect.poll(…, POLL)`: an explicit bound for assertions that poll. */
export const POLL = { timeout: 10_000, interval: 50 } as const;

/**
 * Calls `check` until it returns something other than `undefined` or `false`, and returns that.
 * After `timeoutMs`, fails naming `what` was awaited. A check that throws fails at once (so an
 * assertion inside it is not retried away); one that may throw while waiting (a server not
 * listening yet) catches that itself.
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs, intervalMs = 50, state }: PollOptions,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() >= deadline) {
      const detail = state ? `; state: ${JSON.stringify(await state())?.slice(0, 2_000)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Awaits `event` (e.g. a child's exit, a socket's close), failing after `timeoutMs` naming `what`. */
export async function within<T>(what: string, event: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([event, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
