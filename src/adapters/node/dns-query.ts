import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

// Asking a path's resolvers: the query per address family, merging the families' records into one
// answer with its TTL, and telling "no such name" from "no resolver answered". The cache around it
// is PathResolver (path-resolver.ts).

export type AddressFamily = 4 | 6;

export interface ResolvedAddress {
  address: string;
  family: AddressFamily;
}

/** One DNS query for one address family: records with their TTL in seconds (as `resolve4(host, { ttl: true })` gives). */
export type FamilyQuery = (
  hostname: string,
  family: AddressFamily,
) => Promise<{ address: string; ttl: number }[]>;

/** One lookup's addresses, when they came and for how long they hold (TTL clamped). */
export interface Answer {
  addresses: ResolvedAddress[];
  receivedAt: number;
  ttlMs: number;
}

/** The answer codes that mean "the name has no such record", as opposed to "no resolver answered". */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/** A DNS lookup that failed: `EAI_AGAIN` when no resolver answered, `ENOTFOUND` when they answered that the name has no address. */
export class DnsLookupError extends Error {
  readonly code: 'EAI_AGAIN' | 'ENOTFOUND';
  constructor(code: 'EAI_AGAIN' | 'ENOTFOUND', message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'DnsLookupError';
    this.code = code;
  }
}

/** Where a path's queries go: Node's resolver, or the `query` given (unit tests). */
export function createResolverQuery(
  options: {
    pathId: string;
    servers?: readonly string[];
    localAddress?: string;
    query?: FamilyQuery;
  },
  limits: { queryTimeoutMs: number; queryTries: number },
): {
  query: FamilyQuery;
  resolver: Resolver | undefined;
  servers: string[];
  misconfigured: string | undefined;
} {
  if (options.query)
    return {
      query: options.query,
      resolver: undefined,
      servers: [...(options.servers ?? [])],
      misconfigured: undefined,
    };
  const sourceFamily = options.localAddress === undefined ? 0 : isIP(options.localAddress);
  const resolver = new Resolver({ timeout: limits.queryTimeoutMs, tries: limits.queryTries });
  if (options.servers !== undefined) resolver.setServers([...options.servers]);
  // A source address of one family cannot reach a resolver of the other: such a query would leave
  // from the box's default address, by the default carrier. So only same-family resolvers are asked.
  const all = resolver.getServers();
  const usable =
    sourceFamily === 0 ? all : all.filter((server) => resolverFamily(server) === sourceFamily);
  if (usable.length !== all.length && usable.length > 0) resolver.setServers(usable);
  // Set when the path's source family has none of the resolvers' families: every lookup fails, saying why.
  const misconfigured =
    usable.length === 0
      ? `path ${options.pathId} sends from ${options.localAddress} (IPv${sourceFamily}) but has no IPv${sourceFamily} resolver (${all.join(', ') || 'none'}); give the path dns: [IPv${sourceFamily} resolvers]`
      : undefined;
  if (options.localAddress !== undefined) resolver.setLocalAddress(options.localAddress);
  const query: FamilyQuery = (hostname, family) =>
    family === 4
      ? resolver.resolve4(hostname, { ttl: true })
      : resolver.resolve6(hostname, { ttl: true });
  return { query, resolver, servers: usable, misconfigured };
}

/** Asks every family at once; one family answering is enough. `path` and `where` name the path and the resolvers in an error. */
export async function askFamilies(
  query: FamilyQuery,
  hostname: string,
  families: readonly AddressFamily[],
  ttl: { minTtlMs: number; maxTtlMs: number },
  path: string,
  where: string,
): Promise<Answer> {
  const results = await Promise.allSettled(
    families.map(async (family) => ({ family, records: await query(hostname, family) })),
  );
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
    const ttlMs = Math.min(ttl.maxTtlMs, Math.max(ttl.minTtlMs, ttlSeconds * 1_000));
    return { addresses, receivedAt: Date.now(), ttlMs };
  }
  const codes = errors.map((e) => codeOf(e) ?? 'ERROR');
  const noSuchName = errors.length === 0 || codes.every((code) => NO_SUCH_NAME.has(code));
  const asked = families.map((f) => (f === 4 ? 'A' : 'AAAA')).join('/');
  throw new DnsLookupError(
    noSuchName ? 'ENOTFOUND' : 'EAI_AGAIN',
    `DNS lookup of ${hostname} (${asked}) ${path} failed: ${codes.join(', ') || 'no records'} (asked ${where})`,
    { cause: errors[0] },
  );
}

/** IP literals need no lookup, and `localhost` is never asked of DNS (RFC 6761). */
export function fixedAddresses(
  hostname: string,
  families: readonly AddressFamily[],
): ResolvedAddress[] | undefined {
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

export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
