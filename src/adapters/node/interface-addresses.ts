import { readdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { BoxInterfaces, InterfaceAddress } from '../../core/egress/egress-probe.ts';
import { interfaceAddress } from '../../core/egress/path-egress.ts';

type NetworkInterfaces = ReturnType<typeof networkInterfaces>;

/** Every address of every interface, as Node lists them (os.networkInterfaces; scope ids dropped). */
export function listAddresses(byName: NetworkInterfaces): InterfaceAddress[] {
  const addresses: InterfaceAddress[] = [];
  for (const [name, list] of Object.entries(byName)) {
    for (const a of list ?? [])
      addresses.push({
        interface: name,
        address: a.address.replace(/%.*$/, ''),
        family: a.family === 'IPv6' ? 6 : 4,
      });
  }
  return addresses;
}

/**
 * The box's interfaces and addresses without running anything: addresses from getifaddrs (Node's
 * os.networkInterfaces, which lists only interfaces that have one), names from /sys/class/net.
 */
export function readInterfaces(): BoxInterfaces {
  const byName = networkInterfaces();
  let names: string[];
  try {
    names = readdirSync('/sys/class/net');
  } catch {
    names = Object.keys(byName);
  }
  return { names, addresses: listAddresses(byName) };
}

/**
 * The current addresses of the box's interfaces, for paths that name an interface instead of an
 * address (an LTE link's address changes on every reconnect). Reading them costs about 0.1 ms, too
 * much for every payment, so the answer is kept for `maxAgeMs` and dropped at once when the
 * network watch reports a change or a connect finds its address gone.
 */
export class InterfaceAddresses {
  readonly #maxAgeMs: number;
  readonly #read: () => NetworkInterfaces;
  #snapshot: InterfaceAddress[] | undefined;
  #readAt = 0;

  constructor(options: { maxAgeMs?: number; read?: () => NetworkInterfaces } = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 1_000;
    this.#read = options.read ?? networkInterfaces;
  }

  /** The interface's address of `family` (a global one before a link-local one), or undefined while it has none. */
  address(name: string, family: 4 | 6): string | undefined {
    const now = Date.now();
    if (this.#snapshot === undefined || now - this.#readAt >= this.#maxAgeMs) {
      this.#snapshot = listAddresses(this.#read());
      this.#readAt = now;
    }
    return interfaceAddress(this.#snapshot, name, family);
  }

  invalidate(): void {
    this.#snapshot = undefined;
  }
}
