import type { LookupAddress } from 'node:dns';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsLookupError, type AddressFamily, type FamilyQuery } from './dns-query.ts';
import { PathResolver } from './path-resolver.ts';
import type { PathResolverOptions } from './path-resolver-types.ts';

/** A resolver whose answers the test sets per family, counting queries. */
function fakeDns() {
  const answers: Record<AddressFamily, { address: string; ttl: number }[] | Error> = {
    4: [{ address: '10.0.0.1', ttl: 60 }],
    6: Object.assign(new Error('no AAAA'), { code: 'ENODATA' }),
  };
  const asked: { hostname: string; family: AddressFamily }[] = [];
  const query: FamilyQuery = (hostname, family) => {
    asked.push({ hostname, family });
    const answer = answers[family];
    return answer instanceof Error
      ? Promise.reject(answer)
      : Promise.resolve(answer.map((r) => ({ ...r })));
  };
  return { answers, asked, query };
}

const failure = (code: string) => Object.assign(new Error(`query ${code}`), { code });

const resolvers: PathResolver[] = [];
function resolver(options: Omit<PathResolverOptions, 'pathId'>): PathResolver {
  const created = new PathResolver({ pathId: 'kt', ...options });
  resolvers.push(created);
  return created;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const r of resolvers.splice(0)) r.close();
  vi.useRealTimers();
});

/** Lookup through `nodeLookup`, as net.connect calls it. */
function nodeLookup(
  r: PathResolver,
  hostname: string,
  options: { all?: boolean; family?: number } = {},
) {
  return new Promise<{
    error: NodeJS.ErrnoException | null;
    address: string | LookupAddress[];
    family?: number;
  }>((resolve) => {
    r.nodeLookup(hostname, options as never, (error, address, family) =>
      resolve({ error, address, family }),
    );
  });
}

describe('PathResolver: cache', () => {
  it('answers from the cache for the TTL and refreshes ahead of expiry in the background', async () => {
    const dns = fakeDns();
    const r = resolver({ localAddress: '10.0.1.2', query: dns.query });
    r.prime('pay.example');
    await vi.advanceTimersByTimeAsync(0);
    expect(dns.asked).toEqual([{ hostname: 'pay.example', family: 4 }]);
    expect(r.lookup('pay.example')).toEqual([{ address: '10.0.0.1', family: 4 }]); // an array, not a promise: nothing waits
    await vi.advanceTimersByTimeAsync(44_000);
    expect(dns.asked).toHaveLength(1);
    dns.answers[4] = [{ address: '10.0.0.2', ttl: 60 }];
    await vi.advanceTimersByTimeAsync(1_000); // 45 s = 75 % of the 60 s TTL
    expect(dns.asked).toHaveLength(2);
    expect(r.lookup('pay.example')).toEqual([{ address: '10.0.0.2', family: 4 }]);
  });

  it('clamps TTLs: a TTL of 0 is used for minTtlMs, a day-long one for at most maxTtlMs', async () => {
    const dns = fakeDns();
    dns.answers[4] = [{ address: '10.0.0.1', ttl: 0 }];
    const short = resolver({ localAddress: '10.0.1.2', query: dns.query, minTtlMs: 2_000 });
    await short.lookup('pay.example');
    expect(short.state().names[0]).toMatchObject({ ttlMs: 2_000 });
    dns.answers[4] = [{ address: '10.0.0.1', ttl: 86_400 }];
    const long = resolver({ localAddress: '10.0.1.2', query: dns.query, maxTtlMs: 300_000 });
    await long.lookup('pay.example');
    expect(long.state().names[0]).toMatchObject({ ttlMs: 300_000 });
  });

  it('keeps the last good answer while the resolvers fail (stale-if-error), for at most staleMs past its TTL', async () => {
    const dns = fakeDns();
    dns.answers[4] = [{ address: '10.0.0.1', ttl: 10 }];
    const r = resolver({ localAddress: '10.0.1.2', query: dns.query, staleMs: 60_000 });
    await r.lookup('pay.example');
    dns.answers[4] = failure('ETIMEOUT');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(r.lookup('pay.example')).toEqual([{ address: '10.0.0.1', family: 4 }]);
    expect(r.state().names[0]).toMatchObject({
      stale: true,
      addresses: ['10.0.0.1'],
      lastError: { code: 'ETIMEOUT' },
    });
    const retriesSoFar = dns.asked.length;
    expect(retriesSoFar).toBeGreaterThan(2); // retried, with backoff
    expect(retriesSoFar).toBeLessThan(10);
    await vi.advanceTimersByTimeAsync(55_000); // 10 s TTL + 60 s stale bound passed
    expect(() => r.lookup('pay.example')).toThrow(DnsLookupError);
    expect(r.state().names[0]).toMatchObject({ addresses: [] });
    dns.answers[4] = [{ address: '10.0.0.3', ttl: 10 }];
    await vi.advanceTimersByTimeAsync(30_000); // the next retry finds the resolvers back
    expect(r.lookup('pay.example')).toEqual([{ address: '10.0.0.3', family: 4 }]);
    expect(r.state().names[0]).toMatchObject({ stale: false });
  });

  it('reports when a name starts failing (and which answer is still used) and when it recovers, once each', async () => {
    const dns = fakeDns();
    dns.answers[4] = [{ address: '10.0.0.1', ttl: 10 }];
    const changes: unknown[] = [];
    const r = resolver({
      localAddress: '10.0.1.2',
      query: dns.query,
      onChange: (change) => changes.push(change),
    });
    await r.lookup('pay.example');
    dns.answers[4] = failure('ETIMEOUT');
    await vi.advanceTimersByTimeAsync(20_000); // the refresh and several retries fail
    expect(changes).toEqual([
      {
        kind: 'failing',
        pathId: 'kt',
        hostname: 'pay.example',
        error: expect.any(DnsLookupError),
        stillUsing: ['10.0.0.1'],
      },
    ]);
    dns.answers[4] = [{ address: '10.0.0.1', ttl: 10 }];
    await vi.advanceTimersByTimeAsync(16_000);
    expect(changes).toHaveLength(2);
    expect(changes[1]).toMatchObject({ kind: 'recovered', addresses: ['10.0.0.1'] });
  });

  it('drops the answer when the resolvers answer that the name has no address (not a failure to answer)', async () => {
    const dns = fakeDns();
    dns.answers[4] = [{ address: '10.0.0.1', ttl: 10 }];
    const r = resolver({ localAddress: '10.0.1.2', query: dns.query });
    await r.lookup('pay.example');
    dns.answers[4] = failure('ENOTFOUND');
    await vi.advanceTimersByTimeAsync(8_000);
    expect(() => r.lookup('pay.example')).toThrow(expect.objectContaining({ code: 'ENOTFOUND' }));
  });

  it('with no answer and a failed lookup, fails at once until the next retry instead of asking per request', async () => {
    const dns = fakeDns();
    dns.answers[4] = failure('ECONNREFUSED');
    const r = resolver({ localAddress: '10.0.1.2', query: dns.query });
    await expect(r.lookup('pay.example')).rejects.toMatchObject({
      code: 'EAI_AGAIN',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    for (let i = 0; i < 5; i++)
      expect(() => r.lookup('pay.example')).toThrow(expect.objectContaining({ code: 'EAI_AGAIN' }));
    expect(dns.asked).toHaveLength(1);
    dns.answers[4] = [{ address: '10.0.0.1', ttl: 10 }];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.lookup('pay.example')).toEqual([{ address: '10.0.0.1', family: 4 }]);
  });

  it('shares one lookup between concurrent first requests', async () => {
    const dns = fakeDns();
    const r = resolver({ localAddress: '10.0.1.2', query: dns.query });
    const all = await Promise.all([
      r.lookup('pay.example'),
      r.lookup('pay.example'),
      r.lookup('pay.example'),
    ]);
    expect(all.every((a) => a[0]?.address === '10.0.0.1')).toBe(true);
    expect(dns.asked).toHaveLength(1);
  });
});

describe('PathResolver: families follow the path', () => {
  it('an IPv4 source asks for A records only, an IPv6 source for AAAA only', async () => {
    const dns = fakeDns();
    dns.answers[6] = [{ address: '2001:db8::1', ttl: 60 }];
    await resolver({ localAddress: '10.0.1.2', query: dns.query }).lookup('pay.example');
    expect(dns.asked.map((q) => q.family)).toEqual([4]);
    const v6 = await resolver({ localAddress: '2001:db8:3::2', query: dns.query }).lookup(
      'pay.example',
    );
    expect(dns.asked.map((q) => q.family)).toEqual([4, 6]);
    expect(v6).toEqual([{ address: '2001:db8::1', family: 6 }]);
  });

  it('without a source asks for both; either family answering is enough, and IPv6 comes first for Happy Eyeballs', async () => {
    const dns = fakeDns();
    const r = resolver({ query: dns.query });
    expect(await r.lookup('a.example')).toEqual([{ address: '10.0.0.1', family: 4 }]); // AAAA: ENODATA
    dns.answers[6] = [{ address: '2001:db8::1', ttl: 60 }];
    expect(await r.lookup('b.example')).toEqual([
      { address: '2001:db8::1', family: 6 },
      { address: '10.0.0.1', family: 4 },
    ]);
    expect((await nodeLookup(r, 'b.example', { all: true })).address).toEqual([
      { address: '2001:db8::1', family: 6 },
      { address: '10.0.0.1', family: 4 },
    ]);
    expect(await nodeLookup(r, 'b.example', { family: 4 })).toMatchObject({
      error: null,
      address: '10.0.0.1',
      family: 4,
    });
  });

  it('a source of one family with resolvers of only the other fails, saying so, rather than ask by the default carrier', async () => {
    const r = resolver({ localAddress: '2001:db8:3::2', servers: ['192.0.2.53'] });
    const result = await nodeLookup(r, 'pay.example');
    expect(result.error).toMatchObject({
      code: 'EAI_AGAIN',
      message: expect.stringContaining('no IPv6 resolver'),
    });
  });
});

describe('PathResolver: a rebuilt transport (policy reload)', () => {
  it("adopts the replaced resolver's answers when it asks the same resolvers from the same address, and only then", async () => {
    const dns = fakeDns();
    const old = resolver({ localAddress: '10.0.1.2', servers: ['10.0.1.53'], query: dns.query });
    await old.lookup('pay.example');
    dns.answers[4] = failure('ETIMEOUT'); // the resolver went silent before the reload
    const same = resolver({ localAddress: '10.0.1.2', servers: ['10.0.1.53'], query: dns.query });
    same.adopt(old);
    expect(same.lookup('pay.example')).toEqual([{ address: '10.0.0.1', family: 4 }]);
    const moved = resolver({ localAddress: '10.0.1.2', servers: ['10.0.9.53'], query: dns.query });
    moved.adopt(old);
    await expect(moved.lookup('pay.example')).rejects.toMatchObject({ code: 'EAI_AGAIN' });
  });
});

describe('PathResolver: a source address that changes', () => {
  it('asks from the new address, keeps its cached answers, and refuses an address of another family', async () => {
    const dns = fakeDns();
    const r = resolver({ localAddress: '10.0.3.2', query: dns.query });
    await r.lookup('pay.example');
    r.setLocalAddresses(['10.0.3.9']);
    expect(r.state().localAddresses).toEqual(['10.0.3.9']);
    expect(r.lookup('pay.example')).toEqual([{ address: '10.0.0.1', family: 4 }]);
    expect(() => r.setLocalAddresses(['2001:db8::2'])).toThrow(/IPv4/);
  });

  it('a path told its families before it has an address asks only for those, and connects only to its source family', async () => {
    const dns = fakeDns();
    dns.answers[6] = [{ address: '2001:db8::1', ttl: 60 }];
    const r = resolver({ families: [4], query: dns.query });
    expect(await r.lookup('pay.example')).toEqual([{ address: '10.0.0.1', family: 4 }]);
    expect(dns.asked.map((q) => q.family)).toEqual([4]);
    const both = resolver({ query: dns.query });
    await both.lookup('pay.example');
    both.setLocalAddresses(['10.0.3.9']);
    for (let i = 0; i < 3; i++)
      expect(await nodeLookup(both, 'pay.example')).toMatchObject({
        error: null,
        address: '10.0.0.1',
        family: 4,
      });
  });

  it('a dual-stack interface asks from both of its addresses, one per family, and says so when it fails', async () => {
    const dns = fakeDns();
    dns.answers[4] = failure('ETIMEOUT');
    dns.answers[6] = failure('ETIMEOUT');
    const r = resolver({
      families: [6, 4],
      servers: ['2001:db8:3::53', '10.0.3.53'],
      query: dns.query,
    });
    r.setLocalAddresses(['2001:db8:3::2', '10.0.3.2']);
    expect(r.state()).toMatchObject({
      localAddresses: ['2001:db8:3::2', '10.0.3.2'],
      families: [6, 4],
    });
    await expect(r.lookup('pay.example')).rejects.toThrow(
      '(AAAA/A) on path kt failed: ETIMEOUT, ETIMEOUT (asked 2001:db8:3::53, 10.0.3.53 from 2001:db8:3::2 and 10.0.3.2)',
    );
    expect(() => r.setLocalAddresses(['10.0.3.2', '10.0.3.3'])).toThrow(
      /one source address per family/,
    );
    // node:dns takes them in either order (c-ares binds one per family).
    const real = resolver({ families: [6, 4], servers: ['2001:db8:3::53', '10.0.3.53'] });
    expect(() => real.setLocalAddresses(['2001:db8:3::2', '10.0.3.2'])).not.toThrow();
    expect(() => real.setLocalAddresses(['10.0.3.2'])).not.toThrow();
  });
});

describe('PathResolver: nodeLookup (net.connect)', () => {
  it('rotates single-address lookups over the answer and passes errors with their code', async () => {
    const dns = fakeDns();
    dns.answers[4] = [
      { address: '10.0.0.1', ttl: 60 },
      { address: '10.0.0.2', ttl: 60 },
    ];
    const r = resolver({ localAddress: '10.0.1.2', query: dns.query });
    const picked = [];
    for (let i = 0; i < 4; i++) picked.push((await nodeLookup(r, 'pay.example')).address);
    expect(picked).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.2']);
    dns.answers[4] = failure('ESERVFAIL');
    expect((await nodeLookup(r, 'other.example')).error).toMatchObject({ code: 'EAI_AGAIN' });
  });

  it('never asks DNS for IP literals or localhost', async () => {
    const dns = fakeDns();
    const r = resolver({ localAddress: '127.0.0.2', query: dns.query });
    expect(await nodeLookup(r, '127.0.0.9')).toMatchObject({ address: '127.0.0.9', family: 4 });
    expect(await nodeLookup(r, 'localhost')).toMatchObject({ address: '127.0.0.1', family: 4 });
    expect(dns.asked).toEqual([]);
  });
});
