import type {
  BoxInterfaces,
  EgressProbe,
  RouteAnswer,
} from '../../src/core/egress/egress-probe.ts';

/**
 * A box's addresses and routes in memory, for unit tests: `routes` maps a source address (or
 * `*` for the kernel's own choice) to the answer; `change()` stands in for a kernel notification.
 */
export class FakeEgressProbe implements EgressProbe {
  box: BoxInterfaces;
  routes = new Map<string, RouteAnswer>();
  hosts = new Map<string, string>();
  asked: { destination: string; source: string | undefined }[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(box: BoxInterfaces) {
    this.box = box;
  }

  interfaces(): Promise<BoxInterfaces> {
    return Promise.resolve(structuredClone(this.box));
  }

  route(destination: string, source: string | undefined): Promise<RouteAnswer> {
    this.asked.push({ destination, source });
    const answer = this.routes.get(source ?? '*');
    return answer
      ? Promise.resolve({ ...answer })
      : Promise.reject(new Error('Network is unreachable'));
  }

  resolve(host: string): Promise<string> {
    const address = this.hosts.get(host);
    return address ? Promise.resolve(address) : Promise.reject(new Error(`${host} not found`));
  }

  watch(onChange: () => void): { close(): void } {
    this.#listeners.add(onChange);
    return { close: () => this.#listeners.delete(onChange) };
  }

  change(): void {
    for (const listener of this.#listeners) listener();
  }

  get watching(): number {
    return this.#listeners.size;
  }
}

/** `ip route get` as a box with one default route via carrier 1 answers for every source. */
export function viaCarrier(
  n: number,
  source: string | null = null,
  table: string | null = null,
): RouteAnswer {
  return { interface: `s${n}`, gateway: `10.201.${n}.1`, source, table, local: false };
}
