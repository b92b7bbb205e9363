import { networkInterfaces } from 'node:os';
import { interfaceAddress } from '../../core/egress/path-egress.ts';

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
    const own = (this.#snapshot[name] ?? []).map((a) => ({ interface: name, address: a.address, family: a.family === 'IPv6' ? (6 as const) : (4 as const) }));
    return interfaceAddress(own, name, family);
  }

  invalidate(): void {
    this.#snapshot = undefined;
  }
}
