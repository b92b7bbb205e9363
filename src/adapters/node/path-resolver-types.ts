import type { AddressFamily, DnsLookupError, FamilyQuery } from './dns-query.ts';

// PathResolver's options, the changes it reports and what /status shows of it.

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
  | {
      kind: 'failing';
      pathId: string;
      hostname: string;
      error: DnsLookupError;
      stillUsing: string[];
    }
  | {
      kind: 'recovered';
      pathId: string;
      hostname: string;
      addresses: string[];
      failedForMs: number;
    };

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
