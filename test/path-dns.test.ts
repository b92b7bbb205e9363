// DNS per path, on loopback: the processor named by a host name, each path asking its own resolver
// (dnsmasq on 127.0.53.N) from its own source address, the processor closing a connection after
// 100 answers (as nginx's keepalive_requests does) so new connections, and lookups, keep coming.
// The same on a namespace-built store box, with the resolvers behind real carriers: store-box-dns.test.ts.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { PathResolver } from '../src/adapters/node/path-resolver.ts';
import type { PathDnsState } from '../src/adapters/node/path-resolver-types.ts';
import { createUndiciTransport } from '../src/adapters/node/undici-transport.ts';
import { AttemptError } from '../src/core/attempt-error.ts';
import type { PathConfig } from '../src/core/policy/schema.ts';
import { dnsmasqAvailable, LoopbackDnsmasq } from './support/dnsmasq.ts';
import { until } from './support/poll.ts';
import { CARRIERS, failed, Rig, type CarrierId, type RigOptions } from './support/rig.ts';

const HOSTNAME = 'pay.test';
const TTL_SECONDS = 1;

const started: { rig?: Rig; resolvers: LoopbackDnsmasq[] } = { resolvers: [] };
afterEach(async () => {
  await started.rig?.close();
  started.rig = undefined;
  for (const resolver of started.resolvers.splice(0)) await resolver.stop();
});

/** One resolver per carrier, each answering the processor's name with its own carrier's address. */
async function startResolvers(): Promise<Map<CarrierId, LoopbackDnsmasq>> {
  const resolvers = new Map<CarrierId, LoopbackDnsmasq>();
  for (const [i, carrier] of CARRIERS.entries()) {
    const resolver = await LoopbackDnsmasq.start(`127.0.53.${i + 1}`, [
      { name: HOSTNAME, address: carrier.host, ttlSeconds: TTL_SECONDS },
    ]);
    started.resolvers.push(resolver);
    resolvers.set(carrier.id, resolver);
  }
  return resolvers;
}

/** A rig whose paths name the processor by host name and ask `dns(carrier)` for it. */
async function startRig(dns: (id: CarrierId) => string, options: RigOptions = {}): Promise<Rig> {
  const rig = await Rig.start({
    processorMaxRequestsPerSocket: 100,
    ...options,
    policy: (input) => ({
      ...input,
      paths: input.paths.map((path) => ({
        ...path,
        upstream: path.upstream.replace(/\/\/127\.0\.1\.\d+:/, `//${HOSTNAME}:`),
        dns: [dns(path.id as CarrierId)],
      })),
    }),
  });
  started.rig = rig;
  return rig;
}

async function dnsState(rig: Rig): Promise<Map<string, PathDnsState & { path: string }>> {
  const status = (await (await fetch(`${rig.url}/status`)).json()) as {
    dns: (PathDnsState & { path: string })[];
  };
  return new Map(status.dns.map((entry) => [entry.path, entry]));
}

/** Waits (polling /status, at most `timeoutMs`) until `check` holds for the DNS state. */
async function waitForDns(
  rig: Rig,
  what: string,
  check: (state: Map<string, PathDnsState & { path: string }>) => boolean,
  timeoutMs = 10_000,
) {
  await until(what, async () => check(await dnsState(rig)), {
    timeoutMs,
    state: async () => [...(await dnsState(rig)).values()],
  });
}

const nameOf = (state: Map<string, PathDnsState>, id: CarrierId) =>
  state.get(id)?.names.find((n) => n.hostname === HOSTNAME);
const allAnswered = (state: Map<string, PathDnsState>) =>
  CARRIERS.every((c) => (nameOf(state, c.id)?.addresses.length ?? 0) > 0);

describe.skipIf(!dnsmasqAvailable())('DNS per path (loopback resolvers)', () => {
  it('carrier 1 and its resolver cut for longer than the TTL, the processor recycling connections: 0 failed, no payment waits on DNS', async () => {
    const resolvers = await startResolvers();
    const rig = await startRig((id) => resolvers.get(id)!.server);
    await waitForDns(rig, 'every path has an answer', allAnswered);
    // Lookups that waited before any payment (the start-up's first lookup and pool warming).
    const before = await dnsState(rig);

    const results = await rig.stream('cut', 600, {
      concurrency: 10,
      beforeIndex: async (i) => {
        if (i === 100) {
          resolvers.get('kt-fiber')!.pause();
          await rig.cut('kt-fiber', { mode: 'blackhole' });
        }
        // The cut lasts until carrier 1's answer has gone stale (past its TTL, its resolver silent).
        if (i === 400) {
          await waitForDns(
            rig,
            "kt-fiber's answer stale, its refresh failed",
            (state) =>
              nameOf(state, 'kt-fiber')?.stale === true &&
              nameOf(state, 'kt-fiber')?.lastError !== undefined,
          );
          resolvers.get('kt-fiber')!.resume();
          await rig.restoreAll();
        }
      },
    });

    expect(failed(results)).toEqual([]);
    expect(rig.processor.duplicateCharges).toBe(0);
    const state = await dnsState(rig);
    // The other carriers kept making connections (the processor closes one every 100 answers) and
    // every one found its address in the cache.
    expect(nameOf(state, 'skt-fiber')!.lookups).toBeGreaterThan(3);
    for (const c of CARRIERS)
      expect(nameOf(state, c.id)!.waited, c.id).toBe(nameOf(before, c.id)!.waited);
    // Each path asked its own resolver, from its own source address.
    for (const c of CARRIERS) {
      const sources = resolvers
        .get(c.id)!
        .querySources()
        .filter((source) => source !== '127.0.0.1'); // 127.0.0.1: LoopbackDnsmasq's own readiness check
      expect(sources.length, c.id).toBeGreaterThan(0);
      expect(new Set(sources), c.id).toEqual(new Set([c.bind]));
    }
  });

  it('a path whose resolver stops answering keeps using its last good answer (stale-if-error) on new connections', async () => {
    const resolvers = await startResolvers();
    // Connections closed after 20 answers: many new connections, each one's lookup made while the resolver is silent.
    // A long attempt timeout: on a loaded machine a slow answer must not move a payment to
    // skt-fiber, since the test tells which path carried each one.
    const rig = await startRig((id) => resolvers.get(id)!.server, {
      processorMaxRequestsPerSocket: 20,
      route: { attemptTimeoutMs: 5_000 },
    });
    await waitForDns(rig, 'every path has an answer', allAnswered);
    resolvers.get('kt-fiber')!.pause();
    // Past its TTL, and a refresh has failed (timed out) since.
    await waitForDns(
      rig,
      "kt-fiber's answer stale, its refresh failed",
      (state) =>
        nameOf(state, 'kt-fiber')?.stale === true &&
        nameOf(state, 'kt-fiber')?.lastError !== undefined,
    );
    const before = nameOf(await dnsState(rig), 'kt-fiber')!;

    const results = await rig.stream('stale', 200, { concurrency: 5 });

    expect(failed(results)).toEqual([]);
    expect(results.every((r) => r.headers.get('x-paypath-path') === 'kt-fiber')).toBe(true);
    const kt = nameOf(await dnsState(rig), 'kt-fiber')!;
    expect(kt).toMatchObject({
      stale: true,
      addresses: ['127.0.1.1'],
      waited: before.waited,
      lastError: { code: 'ETIMEOUT' },
    });
    expect(kt.lookups - before.lookups).toBeGreaterThanOrEqual(5); // 200 answers, at most 20 per connection
    const metrics = await (await fetch(`${rig.url}/metrics`)).text();
    expect(metrics).toContain('paypath_dns_answer_stale{path="kt-fiber"} 1');
    expect(metrics).toContain('paypath_dns_answer_stale{path="skt-fiber"} 0');
    expect(metrics).toContain('paypath_dns_answer_available{path="kt-fiber"} 1');
  });

  it('a path whose resolver cannot be reached fails "not sent" on that path only: payments go on by the next path', async () => {
    const resolvers = await startResolvers();
    const dead = resolvers.get('kt-fiber')!;
    await dead.stop(); // nothing listens on its port: queries are refused
    // A generous attempt timeout: a payment slowed by a busy machine must not move on to lgu-lte,
    // since this test shows which path a failed lookup leads to.
    const rig = await startRig((id) => resolvers.get(id)!.server, {
      route: { attemptTimeoutMs: 5_000 },
    });
    await waitForDns(
      rig,
      "kt-fiber's lookup failed",
      (state) => nameOf(state, 'kt-fiber')?.lastError !== undefined,
    );

    const results = await rig.stream('nodns', 30, { concurrency: 3 });

    expect(failed(results)).toEqual([]);
    expect(results.every((r) => r.headers.get('x-paypath-path') === 'skt-fiber')).toBe(true);
    expect(rig.processor.charges.filter((c) => c.remoteAddress === '127.0.0.2')).toEqual([]);
    expect(nameOf(await dnsState(rig), 'kt-fiber')).toMatchObject({
      addresses: [],
      lastError: { code: 'ECONNREFUSED' },
    });
    expect(await (await fetch(`${rig.url}/metrics`)).text()).toContain(
      'paypath_dns_answer_available{path="kt-fiber"} 0',
    );
  });
});

const pathConfig = (upstream: string, extra: Partial<PathConfig>): PathConfig => ({
  id: 'p',
  upstream,
  grade: 'hot',
  cost: 0,
  shareRisk: [],
  connectTimeoutMs: 1_000,
  connectAttemptDelayMs: 250,
  ...extra,
});

describe.skipIf(!dnsmasqAvailable())('DNS per path: address families (loopback)', () => {
  /** One GET over a transport for `path`, to a server listening on `listen` only; the answer's body is the address the server saw. */
  async function getOver(
    listen: string,
    path: (port: number) => PathConfig,
  ): Promise<{ body: string; resolver: PathResolver | undefined }> {
    const server = createServer((req, res) => res.end(req.socket.localAddress));
    await new Promise<void>((resolve) => server.listen(0, listen, resolve));
    let resolver: PathResolver | undefined;
    const transport = createUndiciTransport(path((server.address() as AddressInfo).port), {
      onResolver: (r) => (resolver = r),
    });
    try {
      const response = await transport.send(
        { method: 'GET', target: '/', headers: new Headers(), body: null },
        { signal: AbortSignal.timeout(5_000), bodyTimeoutMs: 5_000 },
      );
      return { body: new TextDecoder().decode(response.body as Uint8Array), resolver };
    } finally {
      await transport.close();
      server.close();
    }
  }

  it('a path without a source address asks for A and AAAA and reaches whichever family the processor listens on', async () => {
    const resolver = await LoopbackDnsmasq.start('127.0.53.9', [
      { name: 'dual.test', address: '127.0.0.1,::1', ttlSeconds: 1 },
    ]);
    started.resolvers.push(resolver);
    for (const listen of ['::1', '127.0.0.1']) {
      const { body, resolver: used } = await getOver(listen, (port) =>
        pathConfig(`http://dual.test:${port}`, { dns: [resolver.server] }),
      );
      expect(body).toBe(listen);
      expect(used?.families).toEqual([6, 4]);
    }
  });

  it('a path with an IPv6 source asks for AAAA records only', async () => {
    const resolver = await LoopbackDnsmasq.start(
      '127.0.53.9',
      [{ name: 'dual.test', address: '127.0.0.1,::1', ttlSeconds: 1 }],
      { alsoListen: ['::1'] },
    );
    started.resolvers.push(resolver);
    const { body } = await getOver('::1', (port) =>
      pathConfig(`http://dual.test:${port}`, { bind: '::1', dns: [`[::1]:${resolver.port}`] }),
    );
    expect(body).toBe('::1');
    // Its queries (LoopbackDnsmasq's own readiness check from 127.0.0.1 aside) were AAAA, from the path's IPv6 source.
    expect(resolver.queries().filter((q) => q.from !== '127.0.0.1')).toEqual([
      { type: 'AAAA', name: 'dual.test', from: '::1' },
    ]);
  });
});

describe('DNS per path: failures', () => {
  it('a failed lookup is a dns_failed attempt error, not sent', async () => {
    // Nothing listens on that resolver address: the query is refused.
    const transport = createUndiciTransport(
      pathConfig('http://pay.test:8080', { bind: '127.0.0.2', dns: ['127.0.53.10:9'] }),
    );
    try {
      const error = await transport
        .send(
          { method: 'POST', target: '/v1/payments', headers: new Headers(), body: null },
          { signal: AbortSignal.timeout(5_000), bodyTimeoutMs: 5_000 },
        )
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AttemptError);
      expect(error).toMatchObject({
        code: 'dns_failed',
        wire: 'not_sent',
        message: expect.stringContaining('pay.test'),
      });
    } finally {
      await transport.close();
    }
  });
});
