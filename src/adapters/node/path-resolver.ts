import type { Resolver } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import {
  askFamilies,
  codeOf,
  createResolverQuery,
  DnsLookupError,
  fixedAddresses,
  type AddressFamily,
  type Answer,
  type FamilyQuery,
  type ResolvedAddress,
} from './dns-query.ts';
import {
  DNS_CACHE_DEFAULTS,
  type DnsCacheOptions,
  type DnsChange,
  type PathDnsState,
  type PathResolverOptions,
} from './path-resolver-types.ts';
import { nameState, type CacheEntry } from './dns-cache-entry.ts';
import { socketLookup } from './socket-lookup.ts';

/**
 * Resolves host names for one path, through that path: its own resolvers (or the system's),
 * asked from the path's source address, so with per-carrier routing the queries leave by the
 * carrier that will carry the request. A path with an IPv4 source asks for A records, an IPv6
 * one for AAAA, one without a source for both (the connect then races them, Happy Eyeballs).
 *
 * Answers are cached for their TTL (clamped), refreshed in the background before they expire, and
 * kept past it while refreshing fails (stale-if-error, up to `staleMs`): once a name has been
 * looked up, a request on this path never waits on DNS. Only a name's first lookup (started when
 * the transport is created) or one whose stale answer ran out is waited on.
 */
export class PathResolver {
  readonly pathId: string;
  readonly families: AddressFamily[];
  readonly #options: Required<DnsCacheOptions>;
  #localAddresses: string[];
  readonly #resolver: Resolver | undefined;
  readonly #query: FamilyQuery;
  readonly #entries = new Map<string, CacheEntry>();
  readonly #servers: string[];
  /** Set when the path's source family has none of the resolvers' families: every lookup fails, saying why. */
  readonly #misconfigured: string | undefined;
  readonly #onChange: ((change: DnsChange) => void) | undefined;
  #closed = false;

  constructor(options: PathResolverOptions) {
    this.pathId = options.pathId;
    this.#options = { ...DNS_CACHE_DEFAULTS, ...definedOnly(options) };
    this.#localAddresses = options.localAddress === undefined ? [] : [options.localAddress];
    this.#onChange = options.onChange;
    const sourceFamily = options.localAddress === undefined ? 0 : isIP(options.localAddress);
    this.families =
      sourceFamily === 4 ? [4] : sourceFamily === 6 ? [6] : (options.families ?? [6, 4]);
    const asker = createResolverQuery(options, this.#options);
    this.#query = asker.query;
    this.#resolver = asker.resolver;
    this.#servers = asker.servers;
    this.#misconfigured = asker.misconfigured;
    this.nodeLookup = socketLookup({
      pathId: this.pathId,
      lookup: (hostname) => this.lookup(hostname),
      localAddresses: () => this.#localAddresses,
      pick: (hostname, count) => {
        const entry = this.#entries.get(hostname);
        return entry ? entry.next++ % count : 0;
      },
    });
  }

  /**
   * The addresses to connect to: the cached answer when there is one (even a stale one within the
   * bound), without waiting; otherwise a lookup now. Throws or rejects with DnsLookupError.
   */
  lookup(hostname: string): ResolvedAddress[] | Promise<ResolvedAddress[]> {
    const fixed = fixedAddresses(hostname, this.families);
    if (fixed) return fixed;
    const entry = this.#entry(hostname);
    entry.lookups++;
    const answer = this.#usable(entry);
    if (answer) return answer.addresses;
    // No answer, and the last attempt failed: fail at once (that path only) until the scheduled retry,
    // rather than make every request wait on a resolver that is not answering.
    if (entry.failures > 0 && !entry.refreshing && entry.lastError) {
      throw new DnsLookupError(
        entry.lastError.notFound ? 'ENOTFOUND' : 'EAI_AGAIN',
        entry.lastError.message,
      );
    }
    entry.waited++;
    return this.#refresh(entry).then(
      (fresh) => fresh.addresses,
      (error: unknown) => {
        throw error instanceof DnsLookupError
          ? error
          : new DnsLookupError('EAI_AGAIN', String(error), { cause: error });
      },
    );
  }

  /** Starts looking a name up now (when the transport is created), so the first request finds an answer. */
  prime(hostname: string): void {
    if (fixedAddresses(hostname, this.families)) return;
    this.#refresh(this.#entry(hostname)).catch(() => {});
  }

  /** For `net.connect({ lookup })` (and so undici's connector): answers from the cache, as `dns.lookup` would. */
  readonly nodeLookup: LookupFunction;

  state(now = Date.now()): PathDnsState {
    return {
      servers: this.#servers,
      localAddresses: this.#localAddresses,
      families: this.families,
      names: [...this.#entries.values()].map((entry) => nameState(entry, now)),
    };
  }

  /**
   * Takes over the answers of the resolver this one replaces (the same path's, when a policy
   * reload rebuilt its transport) if it asked the same resolvers from the same address, so a
   * reload during a resolver outage keeps the last good answers. Answers of its own come first.
   */
  adopt(previous: PathResolver): void {
    const same =
      previous !== this &&
      previous.#localAddresses.join(',') === this.#localAddresses.join(',') &&
      previous.#servers.join(',') === this.#servers.join(',') &&
      previous.families.join(',') === this.families.join(',');
    if (!same) return;
    for (const [hostname, old] of previous.#entries) {
      if (!old.answer) continue;
      const entry = this.#entry(hostname);
      entry.answer ??= { ...old.answer, addresses: [...old.answer.addresses] };
    }
  }

  /**
   * Follows a path whose source addresses change (an interface's new address after an LTE
   * reconnect): queries to IPv4 resolvers leave from its IPv4 address, to IPv6 ones from its IPv6
   * address. Cached answers stay, as they came from the same carrier's resolvers. At most one
   * address per family; an address of a family the path does not ask for is refused.
   */
  setLocalAddresses(addresses: readonly string[]): void {
    const families = addresses.map((address) => isIP(address));
    for (const [i, family] of families.entries()) {
      if (family !== 4 && family !== 6) throw new Error(`not an IP address: ${addresses[i]}`);
      if (!this.families.includes(family))
        throw new Error(
          `path ${this.pathId} asks for IPv${this.families.join('/')} records; ${addresses[i]} is IPv${family}`,
        );
    }
    if (new Set(families).size !== families.length)
      throw new Error(`one source address per family, not ${addresses.join(', ')}`);
    // c-ares takes one address per family; the family left out queries from the kernel's choice.
    if (addresses.length > 0) this.#resolver?.setLocalAddress(addresses[0]!, addresses[1]);
    this.#localAddresses = [...addresses];
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
    this.#resolver?.cancel();
  }

  #entry(hostname: string): CacheEntry {
    let entry = this.#entries.get(hostname);
    if (!entry) {
      entry = { hostname, failures: 0, next: 0, lookups: 0, waited: 0 };
      this.#entries.set(hostname, entry);
    }
    return entry;
  }

  /** The answer to use now: fresh, or stale within the bound; a stale one past the bound is dropped. */
  #usable(entry: CacheEntry): Answer | undefined {
    const answer = entry.answer;
    if (!answer) return undefined;
    const now = Date.now();
    // A timer refreshes it ahead of expiry, and retries (with backoff) while that fails.
    if (now <= answer.receivedAt + answer.ttlMs + this.#options.staleMs) return answer;
    entry.answer = undefined;
    return undefined;
  }

  /** One lookup of the name at a time, whoever asks; on success the next refresh is scheduled, on failure a retry. */
  #refresh(entry: CacheEntry): Promise<Answer> {
    if (entry.refreshing) return entry.refreshing;
    clearTimeout(entry.timer);
    const refreshing = this.#ask(entry.hostname).then(
      (answer) => {
        entry.refreshing = undefined;
        entry.answer = answer;
        if (entry.failures > 0 && entry.lastError) {
          this.#onChange?.({
            kind: 'recovered',
            pathId: this.pathId,
            hostname: entry.hostname,
            addresses: answer.addresses.map((a) => a.address),
            failedForMs: Date.now() - entry.failingSince!,
          });
        }
        entry.failures = 0;
        entry.failingSince = undefined;
        this.#schedule(entry, answer.ttlMs * this.#options.refreshAt);
        return answer;
      },
      (error: DnsLookupError) => {
        entry.refreshing = undefined;
        entry.lastError = {
          code: codeOf(error.cause) ?? error.code,
          message: error.message,
          at: Date.now(),
          notFound: error.code === 'ENOTFOUND',
        };
        // The resolvers answered that the name has no address: that answer replaces the cached one.
        // Only a failure to get an answer keeps the last good one (RFC 8767's serve-stale).
        if (error.code === 'ENOTFOUND') entry.answer = undefined;
        const wait = Math.min(
          this.#options.retryMaxMs,
          this.#options.retryMinMs * 2 ** entry.failures,
        );
        if (entry.failures === 0) {
          entry.failingSince = Date.now();
          this.#onChange?.({
            kind: 'failing',
            pathId: this.pathId,
            hostname: entry.hostname,
            error,
            stillUsing: entry.answer?.addresses.map((a) => a.address) ?? [],
          });
        }
        entry.failures++;
        this.#schedule(entry, wait);
        throw error;
      },
    );
    entry.refreshing = refreshing;
    return refreshing;
  }

  #schedule(entry: CacheEntry, delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.#refresh(entry).catch(() => {}), Math.max(0, delayMs));
    entry.timer.unref?.();
  }

  /** Asks the path's resolvers for every family the path uses, at once; one family answering is enough. */
  async #ask(hostname: string): Promise<Answer> {
    if (this.#misconfigured) throw new DnsLookupError('EAI_AGAIN', this.#misconfigured);
    const sources = this.#localAddresses;
    const where = `${this.#servers.join(', ') || 'system resolvers'}${sources.length > 0 ? ` from ${sources.join(' and ')}` : ''}`;
    return askFamilies(
      this.#query,
      hostname,
      this.families,
      this.#options,
      `on path ${this.pathId}`,
      where,
    );
  }
}

function definedOnly(options: DnsCacheOptions): DnsCacheOptions {
  return Object.fromEntries(
    Object.entries(options).filter(
      ([key, value]) => value !== undefined && key in DNS_CACHE_DEFAULTS,
    ),
  ) as DnsCacheOptions;
}
