import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import type { ConnectTarget, Connector } from './pre-connector.ts';
import { DnsLookupError, type AddressFamily, type ResolvedAddress } from './dns-query.ts';
import { TLS_ERROR_CODE } from './undici-dispatch.ts';

/**
 * How long a family that won after the other one (tried first) failed or stayed silent is tried
 * first, so a broken IPv6 does not cost every new connection the attempt delay (RFC 6555, section
 * 4.2, recommends 10 minutes). Afterwards IPv6 goes first again.
 */
export const FAMILY_MEMORY_MS = 600_000;

export interface FamilyRaceOptions {
  /** The upstream's addresses: a path resolver's cached answer, or the upstream's IP literal. */
  lookup: (hostname: string) => ResolvedAddress[] | Promise<ResolvedAddress[]>;
  /** The source address of each family the interface has now; only those families are connected to. */
  sources: Partial<Record<AddressFamily, string>>;
  /** How long one attempt runs before the next is started beside it (sooner when it fails), in ms. */
  attemptDelayMs: number;
  /** Default: FAMILY_MEMORY_MS. */
  familyMemoryMs?: number;
}

/**
 * A connector that connects an interface path with both an IPv4 and an IPv6 address as Happy
 * Eyeballs does (RFC 8305): the upstream's addresses ordered IPv6 first, then alternating
 * families; each attempt bound to the interface's address of the same family (a socket can only
 * have one source address, and net.connect's autoSelectFamily binds the same one to every
 * attempt); the next attempt started after `attemptDelayMs`, or at once when one fails; the first
 * connection (TLS included for https) wins and the others are destroyed. Each attempt has `base`'s
 * own connect timeout. When the family tried second wins, it goes first for `familyMemoryMs`.
 * With one family it connects to that family's addresses the same way.
 */
export function familyRaceConnector(base: Connector, options: FamilyRaceOptions): Connector {
  const { sources } = options;
  const memoryMs = options.familyMemoryMs ?? FAMILY_MEMORY_MS;
  // Rotates each family's addresses per connection, as single-address lookups do (PathResolver.nodeLookup).
  let turn = 0;
  let remembered: { family: AddressFamily; until: number } | undefined;
  const won = (family: AddressFamily, triedFirst: AddressFamily) => {
    if (family !== triedFirst) remembered = { family, until: Date.now() + memoryMs };
  };
  return (target, callback) => {
    const done = callback as (error: Error | null, socket: Socket | null) => void;
    const race = new Race(
      base,
      target as ConnectTarget,
      sources,
      options.attemptDelayMs,
      done,
      won,
    );
    let addresses: ResolvedAddress[] | Promise<ResolvedAddress[]>;
    try {
      addresses = options.lookup(target.hostname);
    } catch (error) {
      queueMicrotask(() => race.fail(error as Error));
      return race;
    }
    const first = remembered && Date.now() < remembered.until ? remembered.family : 6;
    const start = (resolved: ResolvedAddress[]) =>
      race.start(orderCandidates(resolved, sources, turn++, first));
    if (Array.isArray(addresses)) queueMicrotask(() => start(addresses));
    else addresses.then(start, (error: Error) => race.fail(error));
    return race;
  };
}

/**
 * RFC 8305 section 4: `first` (IPv6 unless the other won lately), then the families alternating.
 * Only families with a source address; within a family, rotated by `turn`.
 */
export function orderCandidates(
  addresses: readonly ResolvedAddress[],
  sources: Partial<Record<AddressFamily, string>>,
  turn: number,
  first: AddressFamily = 6,
): ResolvedAddress[] {
  const byFamily = (first === 6 ? ([6, 4] as const) : ([4, 6] as const))
    .filter((family) => sources[family] !== undefined)
    .map((family) => {
      const own = addresses.filter((a) => a.family === family);
      const shift = own.length === 0 ? 0 : turn % own.length;
      return [...own.slice(shift), ...own.slice(0, shift)];
    });
  const ordered: ResolvedAddress[] = [];
  for (let i = 0; i < Math.max(0, ...byFamily.map((list) => list.length)); i++) {
    for (const list of byFamily) if (i < list.length) ordered.push(list[i]!);
  }
  return ordered;
}

/** One connection's race; the connector returns it in place of a socket, so destroying it gives up every attempt still under way. */
class Race {
  readonly #base: Connector;
  readonly #target: ConnectTarget;
  readonly #sources: Partial<Record<AddressFamily, string>>;
  readonly #delayMs: number;
  #callback: ((error: Error | null, socket: Socket | null) => void) | undefined;
  #candidates: ResolvedAddress[] = [];
  #next = 0;
  readonly #pending = new Set<Socket>();
  readonly #failures: { candidate: ResolvedAddress; error: Error }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #won: (family: AddressFamily, triedFirst: AddressFamily) => void;

  constructor(
    base: Connector,
    target: ConnectTarget,
    sources: Partial<Record<AddressFamily, string>>,
    delayMs: number,
    callback: (error: Error | null, socket: Socket | null) => void,
    won: (family: AddressFamily, triedFirst: AddressFamily) => void,
  ) {
    this.#base = base;
    this.#target = target;
    this.#sources = sources;
    this.#delayMs = delayMs;
    this.#callback = callback;
    this.#won = won;
  }

  start(candidates: ResolvedAddress[]): void {
    if (!this.#callback) return; // destroyed while the addresses were looked up
    if (candidates.length === 0) {
      const families = ([6, 4] as const)
        .filter((f) => this.#sources[f] !== undefined)
        .map((f) => `IPv${f}`);
      this.fail(
        new DnsLookupError(
          'ENOTFOUND',
          `no ${families.join(' or ')} address for ${this.#target.hostname}`,
        ),
      );
      return;
    }
    this.#candidates = candidates;
    this.#attemptNext();
  }

  fail(error: Error): void {
    const callback = this.#callback;
    if (!callback) return;
    this.destroy();
    callback(error, null);
  }

  destroy(): void {
    this.#callback = undefined;
    clearTimeout(this.#timer);
    for (const socket of this.#pending) socket.destroy();
    this.#pending.clear();
  }

  #attemptNext(): void {
    clearTimeout(this.#timer);
    const candidate = this.#candidates[this.#next++];
    if (!candidate) return;
    // hostname is now an address: undici still takes the TLS server name from `host` (or the path's servername).
    const attempt = {
      ...this.#target,
      hostname: candidate.address,
      localAddress: this.#sources[candidate.family] ?? null,
    };
    let returned = false;
    const settled = (error: Error | null, connected: Socket | null): void => {
      if (!returned) {
        queueMicrotask(() => settled(error, connected)); // called back before it returned
        return;
      }
      this.#pending.delete(socket);
      if (!this.#callback) {
        connected?.destroy();
        return;
      }
      if (connected && !error) {
        const callback = this.#callback;
        this.destroy();
        this.#won(candidate.family, this.#candidates[0]!.family);
        callback(null, connected);
        return;
      }
      this.#failures.push({ candidate, error: error ?? new Error('no socket') });
      if (this.#next < this.#candidates.length) this.#attemptNext();
      else if (this.#pending.size === 0) this.fail(this.#failure());
    };
    const socket = this.#base(
      attempt as buildConnector.Options,
      settled as buildConnector.Callback,
    ) as unknown as Socket;
    returned = true;
    this.#pending.add(socket);
    if (this.#next < this.#candidates.length)
      this.#timer = setTimeout(() => this.#attemptNext(), this.#delayMs);
  }

  /**
   * Every attempt failed: every attempt in the message, with the code of a TLS failure if one
   * reached the server (a certificate problem to report loudly), else of the last failure (what the
   * race waited for).
   */
  #failure(): Error {
    const failures = this.#failures;
    if (failures.length === 1) return failures[0]!.error;
    const codeOf = (error: Error) => (error as { code?: string }).code;
    const tls = failures.find((f) => TLS_ERROR_CODE.test(codeOf(f.error) ?? ''));
    const code = codeOf((tls ?? failures[failures.length - 1]!).error);
    const port = this.#target.port;
    const each = failures.map(({ candidate, error }) => {
      const host = candidate.family === 6 ? `[${candidate.address}]` : candidate.address;
      return `${host}:${port} from ${this.#sources[candidate.family]}: ${codeOf(error) ?? error.name} ${error.message}`;
    });
    const aggregate = new AggregateError(
      failures.map((f) => f.error),
      `every connect failed: ${each.join('; ')}`,
    ) as AggregateError & { code?: string };
    if (code !== undefined) aggregate.code = code;
    return aggregate;
  }
}
