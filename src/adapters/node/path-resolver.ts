import { Resolver } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

export type AddressFamily = 4 | 6;

export interface ResolvedAddress {
  address: string;
  family: AddressFamily;
}

/** One DNS query for one address family: records with their TTL in seconds (as `resolve4(host, { ttl: true })` gives). */
export type FamilyQuery = (hostname: string, family: AddressFamily) => Promise<{ address: string; ttl: number }[]>;

/** How answers are cached. Each has a documented default in DNS_CACHE_DEFAULTS. */
export interface DnsCacheOptions {
  /** Shortest time an answer is used before it is asked again (a TTL of 0 or 1 s is raised to this), in ms. */
  minTtlMs?: number;
  /** Longest time an answer is used before it is asked again, whatever its TTL, in ms. */
  maxTtlMs?: number;
  /** How long past its TTL the last good answer is still used while the resolvers fail (stale-if-error), in ms. */
  staleMs?: number;
  /** Share of the TTL after which the answer is refreshed in the background. */
  refreshAt?: number;
  /** Wait between refresh retries while resolution fails: starts here and doubles, in ms. */
  retryMinMs?: number;
  /** ... up to this, in ms. */
  retryMaxMs?: number;
  /** One query's timeout, in ms (c-ares doubles it on each retry). */
  queryTimeoutMs?: number;
  /** Tries per query and resolver. */
  queryTries?: number;
}

export const DNS_CACHE_DEFAULTS: Required<DnsCacheOptions> = {
  minTtlMs: 1_000,
  maxTtlMs: 300_000,
  staleMs: 86_400_000,
  refreshAt: 0.75,
  retryMinMs: 1_000,
  retryMaxMs: 30_000,
  queryTimeoutMs: 1_000,
  queryTries: 2,
};

export interface PathResolverOptions extends DnsCacheOptions {
  pathId: string;
  /** The path's own resolvers (`ip` or `ip:port`, `[ip6]:port`). Default: the system's (/etc/resolv.conf). */
  servers?: readonly string[];
  /** The path's source address: queries leave from it, and its family picks A (IPv4) or AAAA (IPv6) records. Without one, both. */
  localAddress?: string;
  /** The record families to ask for, when no source address says it yet (a path following an interface's address). Default: from `localAddress`. */
  families?: AddressFamily[];
  /** Replaces the DNS queries (unit tests). */
  query?: FamilyQuery;
  /** Called when a name's lookups start failing (`failing`: with the answer still in use, if any) and when they succeed again (`recovered`), e.g. to log it. */
  onChange?: (change: DnsChange) => void;
}

export type DnsChange =
  | { kind: 'failing'; pathId: string; hostname: string; error: DnsLookupError; stillUsing: string[] }
  | { kind: 'recovered'; pathId: string; hostname: string; addresses: string[]; failedForMs: number };

/** A DNS lookup that failed: `EAI_AGAIN` when no resolver answered, `ENOTFOUND` when they answered that the name has no address. */
export class DnsLookupError extends Error {
  readonly code: 'EAI_AGAIN' | 'ENOTFOUND';
  constructor(code: 'EAI_AGAIN' | 'ENOTFOUND', message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'DnsLookupError';
    this.code = code;
  }
}

/** What /status shows of one cached name. */
export interface DnsNameState {
  hostname: string;
  addresses: string[];
  /** Age of the answer in use, in ms; absent when there is none. */
  ageMs?: number;
  ttlMs?: number;
  /** Past its TTL: its refresh has not succeeded (it failed, or still waits on a silent resolver), so it is used stale. */
  stale: boolean;
  lastError?: { code: string; message: string; ageMs: number };
  /** Lookups of the name (one per new connection), and those that waited for a DNS answer (none found in the cache). */
  lookups: number;
  waited: number;
}

export interface PathDnsState {
  servers: string[];
  /** Where queries leave from: the path's source address, or an interface path's current ones (one per family). */
  localAddresses: string[];
  families: AddressFamily[];
  names: DnsNameState[];
}

interface Answer {
  addresses: ResolvedAddress[];
  receivedAt: number;
  ttlMs: number;
}

interface CacheEntry {
  hostname: string;
  answer?: Answer;
  refreshing?: Promise<Answer>;
  timer?: ReturnType<typeof setTimeout>;
  failures: number;
  lastError?: { code: string; message: string; at: number; notFound: boolean };
  /** Round-robin position over the answer's addresses, for single-address lookups. */
  next: number;
  /** Lookups of the name (each new connection makes one), and those that had to wait for a DNS answer. */
  lookups: number;
  waited: number;
  /** When the current run of failed lookups began. */
  failingSince?: number;
}

/** The answer codes that mean "the name has no such record", as opposed to "no resolver answered". */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

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
    this.families = sourceFamily === 4 ? [4] : sourceFamily === 6 ? [6] : (options.families ?? [6, 4]);
    if (options.query) {
      this.#query = options.query;
      this.#servers = [...(options.servers ?? [])];
      return;
    }
    const resolver = new Resolver({ timeout: this.#options.queryTimeoutMs, tries: this.#options.queryTries });
    if (options.servers !== undefined) resolver.setServers([...options.servers]);
    // A source address of one family cannot reach a resolver of the other: such a query would leave
    // from the box's default address, by the default carrier. So only same-family resolvers are asked.
    const all = resolver.getServers();
    const usable = sourceFamily === 0 ? all : all.filter((server) => resolverFamily(server) === sourceFamily);
    if (usable.length !== all.length && usable.length > 0) resolver.setServers(usable);
    if (usable.length === 0) {
      this.#misconfigured = `path ${this.pathId} sends from ${options.localAddress} (IPv${sourceFamily}) but has no IPv${sourceFamily} resolver (${all.join(', ') || 'none'}); give the path dns: [IPv${sourceFamily} resolvers]`;
    }
    if (options.localAddress !== undefined) resolver.setLocalAddress(options.localAddress);
    this.#resolver = resolver;
    this.#servers = usable;
    this.#query = (hostname, family) => (family === 4 ? resolver.resolve4(hostname, { ttl: true }) : resolver.resolve6(hostname, { ttl: true }));
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
      throw new DnsLookupError(entry.lastError.notFound ? 'ENOTFOUND' : 'EAI_AGAIN', entry.lastError.message);
    }
    entry.waited++;
    return this.#refresh(entry).then(
      (fresh) => fresh.addresses,
      (error: unknown) => {
        throw error instanceof DnsLookupError ? error : new DnsLookupError('EAI_AGAIN', String(error), { cause: error });
      },
    );
  }

  /** Starts looking a name up now (when the transport is created), so the first request finds an answer. */
  prime(hostname: string): void {
    if (fixedAddresses(hostname, this.families)) return;
    this.#refresh(this.#entry(hostname)).catch(() => {});
  }

  /** For `net.connect({ lookup })` (and so undici's connector): answers from the cache, as `dns.lookup` would. */
  readonly nodeLookup: LookupFunction = (hostname, options, callback) => {
    const deliver = (addresses: ResolvedAddress[]) => {
      // A socket bound to a source address can only reach addresses of that address's family.
      const sources = this.#localAddresses;
      const family = options.family === 4 || options.family === 6 ? options.family : sources.length === 1 ? isIP(sources[0]!) : 0;
      const wanted = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
      if (wanted.length === 0) {
        callback(new DnsLookupError('ENOTFOUND', `no IPv${family} address for ${hostname} on path ${this.pathId}`), '', 0);
        return;
      }
      if (options.all) {
        callback(null, wanted.map((a): LookupAddress => ({ address: a.address, family: a.family })));
        return;
      }
      const entry = this.#entries.get(hostname);
      const index = entry ? entry.next++ % wanted.length : 0;
      const pick = wanted[index]!;
      callback(null, pick.address, pick.family);
    };
    let result: ResolvedAddress[] | Promise<ResolvedAddress[]>;
    try {
      result = this.lookup(hostname);
    } catch (error) {
      callback(error as Error, '', 0);
      return;
    }
    if (Array.isArray(result)) deliver(result);
    else result.then(deliver, (error: Error) => callback(error, '', 0));
  };

  state(now = Date.now()): PathDnsState {
    return {
      servers: this.#servers,
      localAddresses: this.#localAddresses,
      families: this.families,
      names: [...this.#entries.values()].map((entry) => {
        const answer = entry.answer;
        const state: DnsNameState = {
          hostname: entry.hostname,
          addresses: answer?.addresses.map((a) => a.address) ?? [],
          stale: answer !== undefined && now > answer.receivedAt + answer.ttlMs,
          lookups: entry.lookups,
          waited: entry.waited,
        };
        if (answer) {
          state.ageMs = now - answer.receivedAt;
          state.ttlMs = answer.ttlMs;
        }
        if (entry.lastError) state.lastError = { code: entry.lastError.code, message: entry.lastError.message, ageMs: now - entry.lastError.at };
        return state;
      }),
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
      if (!this.families.includes(family)) throw new Error(`path ${this.pathId} asks for IPv${this.families.join('/')} records; ${addresses[i]} is IPv${family}`);
    }
    if (new Set(families).size !== families.length) throw new Error(`one source address per family, not ${addresses.join(', ')}`);
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
          this.#onChange?.({ kind: 'recovered', pathId: this.pathId, hostname: entry.hostname, addresses: answer.addresses.map((a) => a.address), failedForMs: Date.now() - entry.failingSince! });
        }
        entry.failures = 0;
        entry.failingSince = undefined;
        this.#schedule(entry, answer.ttlMs * this.#options.refreshAt);
        return answer;
      },
      (error: DnsLookupError) => {
        entry.refreshing = undefined;
        entry.lastError = { code: codeOf(error.cause) ?? error.code, message: error.message, at: Date.now(), notFound: error.code === 'ENOTFOUND' };
        // The resolvers answered that the name has no address: that answer replaces the cached one.
        // Only a failure to get an answer keeps the last good one (RFC 8767's serve-stale).
        if (error.code === 'ENOTFOUND') entry.answer = undefined;
        const wait = Math.min(this.#options.retryMaxMs, this.#options.retryMinMs * 2 ** entry.failures);
        if (entry.failures === 0) {
          entry.failingSince = Date.now();
          this.#onChange?.({ kind: 'failing', pathId: this.pathId, hostname: entry.hostname, error, stillUsing: entry.answer?.addresses.map((a) => a.address) ?? [] });
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
    const results = await Promise.allSettled(this.families.map(async (family) => ({ family, records: await this.#query(hostname, family) })));
    const addresses: ResolvedAddress[] = [];
    let ttlSeconds = Infinity;
    const errors: unknown[] = [];
    for (const result of results) {
      if (result.status === 'rejected') {
        errors.push(result.reason);
        continue;
      }
      for (const record of result.value.records) {
        addresses.push({ address: record.address, family: result.value.family });
        ttlSeconds = Math.min(ttlSeconds, record.ttl);
      }
    }
    if (addresses.length > 0) {
      const ttlMs = Math.min(this.#options.maxTtlMs, Math.max(this.#options.minTtlMs, ttlSeconds * 1_000));
      return { addresses, receivedAt: Date.now(), ttlMs };
    }
    const sources = this.#localAddresses;
    const where = `${this.#servers.join(', ') || 'system resolvers'}${sources.length > 0 ? ` from ${sources.join(' and ')}` : ''}`;
    const codes = errors.map((e) => codeOf(e) ?? 'ERROR');
    const noSuchName = errors.length === 0 || codes.every((code) => NO_SUCH_NAME.has(code));
    const families = this.families.map((f) => (f === 4 ? 'A' : 'AAAA')).join('/');
    throw new DnsLookupError(
      noSuchName ? 'ENOTFOUND' : 'EAI_AGAIN',
      `DNS lookup of ${hostname} (${families}) on path ${this.pathId} failed: ${codes.join(', ') || 'no records'} (asked ${where})`,
      { cause: errors[0] },
    );
  }
}

/** IP literals need no lookup, and `localhost` is never asked of DNS (RFC 6761). */
function fixedAddresses(hostname: string, families: AddressFamily[]): ResolvedAddress[] | undefined {
  const literal = isIP(hostname);
  if (literal === 4 || literal === 6) return [{ address: hostname, family: literal }];
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    return families.map((family) => ({ address: family === 4 ? '127.0.0.1' : '::1', family }));
  }
  return undefined;
}

/** A resolver as the policy writes it (`1.2.3.4`, `1.2.3.4:53`, `::1`, `[::1]:53`) → its address family (0: not an address). */
export function resolverFamily(server: string): number {
  const bracketed = /^\[([^\]]+)\]/.exec(server);
  if (bracketed) return isIP(bracketed[1]!);
  const plain = isIP(server);
  if (plain !== 0) return plain;
  return isIP(server.replace(/:\d+$/, ''));
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function definedOnly(options: DnsCacheOptions): DnsCacheOptions {
  return Object.fromEntries(Object.entries(options).filter(([key, value]) => value !== undefined && key in DNS_CACHE_DEFAULTS)) as DnsCacheOptions;
}
