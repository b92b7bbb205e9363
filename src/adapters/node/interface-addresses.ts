import { networkInterfaces } from 'node:os';

/**
 * The current addresses of the box's interfaces, for paths that name an interface instead of an
 * address (an LTE link's address changes on every reconnect). Reading them costs about 0.1 ms, too
 * much for every payment, so the answer is kept for `maxAgeMs` and dropped at once when the
 * network watch reports a change or a connect finds its address gone.
 */
export class InterfaceAddresses {
  readonly #maxAgeMs: number;
  readonly #read: () => ReturnType<typeof networkInterfaces>;
  #snapshot: ReturnType<typeof networkInterfaces> | undefined;
  #readAt = 0;

  constructor(options: { maxAgeMs?: number; read?: () => ReturnType<typeof networkInterfaces> } = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 1_000;
    this.#read = options.read ?? networkInterfaces;
  }

  /** The interface's address of `family` (a global one before a link-local one), or undefined while it has none. */
  address(name: string, family: 4 | 6): string | undefined {
    const now = Date.now();
    if (this.#snapshot === undefined || now - this.#readAt >= this.#maxAgeMs) {
      this.#snapshot = this.#read();
      this.#readAt = now;
    }
    const own = (this.#snapshot[name] ?? []).filter((a) => a.family === (family === 4 ? 'IPv4' : 'IPv6'));
    return (own.find((a) => !a.address.toLowerCase().startsWith('fe80:')) ?? own[0])?.address;
  }

  invalidate(): void {
    this.#snapshot = undefined;
  }
}
