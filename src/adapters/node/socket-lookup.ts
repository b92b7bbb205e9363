import type { LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { DnsLookupError, type ResolvedAddress } from './dns-query.ts';

/** What socketLookup asks of a path's resolver (PathResolver). */
export interface CachedAddresses {
  pathId: string;
  /** The addresses of a name: from the cache without waiting, or a lookup now. Throws or rejects with DnsLookupError. */
  lookup(hostname: string): ResolvedAddress[] | Promise<ResolvedAddress[]>;
  /** Where the path's sockets are bound from. */
  localAddresses(): readonly string[];
  /** Which of a name's `count` addresses a single-address lookup takes (round robin). */
  pick(hostname: string, count: number): number;
}

/** For `net.connect({ lookup })` (and so undici's connector): answers from the cache, as `dns.lookup` would. */
export function socketLookup(cache: CachedAddresses): LookupFunction {
  return (hostname, options, callback) => {
    const deliver = (addresses: ResolvedAddress[]) => {
      // A socket bound to a source address can only reach addresses of that address's family.
      const sources = cache.localAddresses();
      const family =
        options.family === 4 || options.family === 6
          ? options.family
          : sources.length === 1
            ? isIP(sources[0]!)
            : 0;
      const wanted =
        family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
      if (wanted.length === 0) {
        callback(
          new DnsLookupError(
            'ENOTFOUND',
            `no IPv${family} address for ${hostname} on path ${cache.pathId}`,
          ),
          '',
          0,
        );
        return;
      }
      if (options.all) {
        callback(
          null,
          wanted.map((a): LookupAddress => ({ address: a.address, family: a.family })),
        );
        return;
      }
      const pick = wanted[cache.pick(hostname, wanted.length)]!;
      callback(null, pick.address, pick.family);
    };
    let result: ResolvedAddress[] | Promise<ResolvedAddress[]>;
    try {
      result = cache.lookup(hostname);
    } catch (error) {
      callback(error as Error, '', 0);
      return;
    }
    if (Array.isArray(result)) deliver(result);
    else result.then(deliver, (error: Error) => callback(error, '', 0));
  };
}
