import { Cluster, Redis } from 'ioredis';
import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RedisStreamAuditLog } from '../src/adapters/node/redis/audit-stream.ts';
import {
  createRedisClient,
  parseClusterUrl,
  type RedisClient,
} from '../src/adapters/node/redis/client.ts';
import type * as ClientModule from '../src/adapters/node/redis/client.ts';
import { RedisForwardQueue } from '../src/adapters/node/redis/forward-queue.ts';
import { RedisIdempotencyStore } from '../src/adapters/node/redis/idempotency-store.ts';
import { RedisNonceStore } from '../src/adapters/node/redis/nonce-store.ts';
import { RedisRateLimiter } from '../src/adapters/node/redis/rate-limiter.ts';
import { waitForRedis } from '../src/adapters/node/exactly-once.ts';
import { WorkerRedisHealthStore } from '../src/adapters/workers/redis-health-store.ts';
import { connectResp, RespClient, type OpenStream } from '../src/adapters/workers/resp-client.ts';
import { MemoryAuditLog } from '../src/core/admin/audit.ts';
import type { PathHealthEvent } from '../src/core/health/health-store.ts';
import { HEALTH_CHANNEL, HEALTH_STATE_KEY } from '../src/core/health/redis-layout.ts';
import { silentLogger, type Logger } from '../src/core/logger.ts';
import type { QueuedRequest } from '../src/core/queue/forward-queue.ts';
import { QueueCipher } from '../src/core/queue/queue-cipher.ts';
import { DetectionRig, pathState, pay } from './support/detection-harness.ts';
import { ExactlyOnceBench, expectGatewayReplay } from './support/exactly-once-bench.ts';
import { TestRedisCluster } from './support/redis-cluster.ts';
import { REFUSED_PORT, type TestRedisServer } from './support/redis-server.ts';
import { capturedLogger } from './support/captured-logger.ts';
import { POLL, until } from './support/poll.ts';

// Passed through, and watched: which options a gateway creates its Redis client with.
vi.mock('../src/adapters/node/redis/client.ts', async (importOriginal) => {
  const original = await importOriginal<typeof ClientModule>();
  return { ...original, createRedisClient: vi.fn(original.createRedisClient) };
});

describe('Redis Cluster URLs', () => {
  it('parse into startup nodes and per-node credentials', () => {
    expect(parseClusterUrl('redis://127.0.0.1:6379')).toBeUndefined();
    expect(parseClusterUrl('redis+sentinel://127.0.0.1:26379/primary')).toBeUndefined();
    expect(parseClusterUrl('redis+cluster://127.0.0.1:7000,127.0.0.2:7001/')).toEqual({
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.2', port: 7001 },
      ],
      redisOptions: {},
    });
    expect(parseClusterUrl('rediss+cluster://app:p%40ss@[::1]:7000,redis-1')).toEqual({
      nodes: [
        { host: '::1', port: 7000 },
        { host: 'redis-1', port: 6379 },
      ],
      redisOptions: { username: 'app', password: 'p@ss', tls: {} },
    });
    expect(parseClusterUrl('redis+cluster://:s3cret@10.0.0.1:7000')?.redisOptions).toEqual({
      password: 's3cret',
    });
  });

  it('name what is wrong in a malformed one', () => {
    expect(() => parseClusterUrl('redis+cluster://')).toThrow(/no node address/);
    expect(() => parseClusterUrl('redis+cluster://127.0.0.1:7000/0')).toThrow(/no database number/);
    expect(() => parseClusterUrl('redis+cluster://127.0.0.1:7000?tls=true')).toThrow(
      /no database number, path or options/,
    );
    expect(() => parseClusterUrl('redis+cluster://127.0.0.1:70000')).toThrow(
      /bad cluster node address "127.0.0.1:70000"/,
    );
    expect(() => parseClusterUrl('redis+cluster://127.0.0.1:7000,,127.0.0.1:7001')).toThrow(
      /bad cluster node address ""/,
    );
    expect(() => parseClusterUrl('redis+cluster://::1:7000')).toThrow(/bad cluster node address/);
    expect(() => parseClusterUrl('redis+cluster://app@127.0.0.1:7000')).toThrow(
      /credentials need a password/,
    );
  });
});

describe('against a Redis Cluster of three redis-server processes', () => {
  let cluster: TestRedisCluster;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    cluster = await TestRedisCluster.start(3);
  }, 30_000);
  // Health state and records an earlier test's gateways shared stay in the Cluster otherwise.
  beforeEach(() => cluster.flushAll());
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  async function client(): Promise<RedisClient> {
    const c = createRedisClient(cluster.url);
    clients.push(c);
    expect(await waitForRedis(c, 5_000)).toBe(true);
    return c;
  }

  it('builds a fail-fast ioredis Cluster from a redis+cluster:// URL', async () => {
    const c = await client();
    expect(c).toBeInstanceOf(Cluster);
    const options = (c as Cluster).options;
    expect(options.enableOfflineQueue).toBe(false);
    expect(options.redisOptions?.commandTimeout).toBe(250);
    expect(options.maxRedirections).toBeLessThanOrEqual(3);
    expect((c as Cluster).nodes('master')).toHaveLength(3);
  });

  it('takes another command timeout for a Cluster, a Sentinel primary or one server, and keeps the rest fail-fast', () => {
    const cluster5s = createRedisClient(cluster.url, { commandTimeout: 5_000 }) as Cluster;
    const sentinel5s = createRedisClient(`redis+sentinel://127.0.0.1:${REFUSED_PORT}/primary`, {
      commandTimeout: 5_000,
    }) as Redis;
    const single5s = createRedisClient(`redis://127.0.0.1:${REFUSED_PORT}`, {
      commandTimeout: 5_000,
    }) as Redis;
    clients.push(cluster5s, sentinel5s, single5s);
    expect(cluster5s.options).toMatchObject({
      enableOfflineQueue: false,
      maxRedirections: 3,
      redisOptions: { commandTimeout: 5_000, maxRetriesPerRequest: 1, connectTimeout: 500 },
    });
    for (const c of [sentinel5s, single5s]) {
      expect(c.options).toMatchObject({
        commandTimeout: 5_000,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 500,
      });
    }
    expect(sentinel5s.options).toMatchObject({
      name: 'primary',
      sentinels: [{ port: REFUSED_PORT }],
    });
  });

  it("runs every store script and command on a Cluster: each one's keys share a slot (no CROSSSLOT)", async () => {
    const c = await client();
    const warnings: object[] = [];
    const logger: Logger = { info() {}, warn: (fields) => warnings.push(fields), error() {} };

    // Forward queue: the enqueue script (3 keys), the finish script (4 keys), the drain lock.
    const queue = new RedisForwardQueue(c, {
      cipher: await QueueCipher.create([new Uint8Array(32).fill(7)]),
    });
    const request = (id: string): QueuedRequest => ({
      id,
      routeId: 'payments',
      method: 'POST',
      target: '/v1/payments',
      headers: [['idempotency-key', `k-${id}`]],
      bodyBase64: null,
      idempotencyKey: `k-${id}`,
      merchant: 'shop-1',
      amount: 700,
      enqueuedAt: Date.now(),
    });
    const limits = { maxDepth: 10, merchantExposureCap: 1_000 };
    expect(await queue.enqueue(request('q_1'), limits)).toEqual({ ok: true });
    expect(await queue.enqueue(request('q_2'), limits)).toEqual({
      ok: false,
      reason: 'exposure_cap',
    });
    expect((await queue.head())?.id).toBe('q_1');
    expect(await queue.recordFailure('q_1', 'all paths down')).toBe(1);
    expect(await queue.acquireDrainLock('gw-1', 5_000)).toBe(true);
    expect(await queue.acquireDrainLock('gw-2', 5_000)).toBe(false);
    await queue.complete(request('q_1'), { status: 201, headers: [], bodyBase64: '' }, 60_000);
    await queue.releaseDrainLock('gw-1');
    expect(await queue.enqueue(request('q_3'), limits)).toEqual({ ok: true }); // the exposure was released
    await queue.deadLetter(request('q_3'), 'rejected by the processor', 60_000);
    expect((await queue.get('q_1'))?.state).toBe('forwarded');
    expect((await queue.get('q_3'))?.state).toBe('dead');
    expect(await queue.stats(Date.now())).toMatchObject({
      kind: 'redis',
      depth: 0,
      deadLettered: 1,
    });

    // Idempotency: the SET NX GET claim and the complete/release scripts.
    const idempotency = new RedisIdempotencyStore(c);
    const claim = await idempotency.claim('cluster-key-1', 'fp', 5_000);
    expect(claim.kind).toBe('claimed');
    expect((await idempotency.claim('cluster-key-1', 'fp', 5_000)).kind).toBe('in_flight');
    expect(
      await idempotency.complete(
        'cluster-key-1',
        (claim as { token: string }).token,
        { status: 201, headers: [], bodyBase64: 'e30=' },
        60_000,
      ),
    ).toBe(true);
    expect(await idempotency.claim('cluster-key-1', 'fp', 5_000)).toMatchObject({
      kind: 'completed',
      answer: { status: 201 },
    });
    const second = await idempotency.claim('cluster-key-2', 'fp', 5_000);
    expect(await idempotency.release('cluster-key-2', (second as { token: string }).token)).toBe(
      true,
    );

    // Rate limiter and nonces fall back to local state on any Redis error, so also check no warning
    // was logged and the keys are really in the Cluster.
    const limiter = new RedisRateLimiter(c, logger);
    expect((await limiter.take('shop-1', { ratePerSecond: 1, burst: 1 })).allowed).toBe(true);
    expect((await limiter.take('shop-1', { ratePerSecond: 1, burst: 1 })).allowed).toBe(false);
    expect(await c.exists('paypath:bucket:shop-1')).toBe(1);
    const nonces = new RedisNonceStore(c, logger);
    expect(await nonces.claim('shop-1', 'nonce-cluster-aaaaaaaa', 60_000)).toBe(true);
    expect(
      await new RedisNonceStore(await client(), logger).claim(
        'shop-1',
        'nonce-cluster-aaaaaaaa',
        60_000,
      ),
    ).toBe(false);

    // The audit stream: written to the Cluster, not to the fallback.
    const fallback = new MemoryAuditLog();
    const audit = new RedisStreamAuditLog(c, fallback, logger);
    await audit.append({
      time: new Date().toISOString(),
      actor: 'ops',
      action: 'policy.apply',
      outcome: 'ok',
    });
    expect((await audit.recent(5)).map((r) => r.action)).toEqual(['policy.apply']);
    expect(fallback.records).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('50 concurrent requests with one key charge once, the claim held in the Cluster', async () => {
    const bench = await ExactlyOnceBench.start({ serviceTimeMs: 150 });
    const made = vi.mocked(createRedisClient).mock.results.length;
    // What the gateway warned of (a claim kept in memory says why), for the assertions' messages.
    const captured = capturedLogger('warn');
    const gateway = await bench.startInProcess(
      bench.writePolicy([
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: bench.pathIds,
          attemptTimeoutMs: 3_000,
          deadlineMs: 6_000,
          idempotency: { upstreamHonors: true },
        },
      ]),
      cluster.url,
      // This test is about where the claim is held, not about a slow Redis: on a busy machine a
      // command may take longer than the default 250 ms, and the gateway would then (rightly) hold
      // the claim in its memory instead.
      { redisCommandTimeoutMs: 5_000, logger: captured.logger },
    );
    try {
      // The option reached the gateway's client (one made for it), and the rest stayed fail-fast.
      const gatewayClients = vi
        .mocked(createRedisClient)
        .mock.results.slice(made)
        .map((r) => r.value as Cluster);
      expect(gatewayClients).toHaveLength(1);
      expect(gatewayClients[0]!.options).toMatchObject({
        enableOfflineQueue: false,
        redisOptions: { commandTimeout: 5_000, maxRetriesPerRequest: 1 },
      });
      // The gateway waits for Redis at start only so long (then runs on local state); a busy
      // machine can take longer to learn the Cluster's slots. The claims must go to the Cluster.
      await until(
        'the gateway connected to the Cluster',
        () => gatewayClients[0]!.status === 'ready',
        {
          timeoutMs: 10_000,
          intervalMs: 20,
        },
      );
      const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
        idempotency: { store: string };
        queue: { kind: string; durable: boolean };
      };
      expect(status.idempotency.store).toBe('redis');
      expect(status.queue).toMatchObject({ kind: 'redis', durable: true });
      const post = () =>
        fetch(`${gateway.url}/v1/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'cluster-50' },
          body: JSON.stringify({ amount: 500, reference: 'ref-cluster-50' }),
        }).then(async (r) => ({ status: r.status, text: await r.text(), headers: r.headers }));
      const answers = await Promise.all(Array.from({ length: 50 }, post));
      expect(bench.processor.chargesFor('ref-cluster-50')).toBe(1);
      // The claim in the Cluster turned the other 49 away: only one request reached the processor,
      // and every 409 is the gateway's (the processor's own would say key_in_use).
      expect(bench.processor.requests.get('/v1/payments')).toBe(1);
      const succeeded = answers.filter((a) => a.status === 201);
      const inUse = answers.filter((a) => a.status === 409);
      expect(succeeded.length).toBeGreaterThanOrEqual(1);
      expect(succeeded.length + inUse.length).toBe(50);
      expect(new Set(succeeded.map((a) => a.text)).size).toBe(1);
      for (const a of inUse) expect(JSON.parse(a.text).error.code).toBe('idempotency_key_in_use');
      const replay = await post();
      expect(replay).toMatchObject({ status: 201, text: succeeded[0]!.text });
      expectGatewayReplay(replay.headers);
      expect(bench.processor.requests.get('/v1/payments')).toBe(1);
      const c = await client();
      expect(
        JSON.parse((await c.get('paypath:idem:{cluster-50}'))!),
        captured.lines.join('\n'),
      ).toMatchObject({ s: 'c' });
    } finally {
      await gateway.close();
      await bench.stop();
    }
  });

  it("the Worker's RESP client, given any node, follows one MOVED to the node owning the health keys", async () => {
    const c = await client();
    const owner = await cluster.ownerOf(Number(await c.cluster('KEYSLOT', HEALTH_STATE_KEY)));
    const [other, third] = cluster.nodes.filter((n) => n !== owner);
    const nodeUrl = `redis://127.0.0.1:${other!.port}`;

    // Without a redirect the node's MOVED is an error; with one, it is followed once and no more.
    const plain = new RespClient(openNet('127.0.0.1', other!.port, false));
    await expect(plain.command('HGETALL', HEALTH_STATE_KEY)).rejects.toThrow(
      /^MOVED \d+ 127\.0\.0\.1:\d+$/,
    );
    await plain.close();
    const once = new RespClient(openNet('127.0.0.1', other!.port, false), {
      redirect: async () => new RespClient(openNet('127.0.0.1', third!.port, false)),
    });
    await expect(once.command('HGETALL', HEALTH_STATE_KEY)).rejects.toThrow(/^MOVED/);
    await once.close();

    // The Worker's health store on a URL naming a node that does not own the slot: it writes
    // its transition and reads a peer's, as the Worker does after each request. (Gateways of other
    // tests share this cluster: their health states are cleared first, so only the peer's is read.)
    await c.del(HEALTH_STATE_KEY);
    await c.hset(
      HEALTH_STATE_KEY,
      'edge-b',
      JSON.stringify({
        pathId: 'edge-b',
        state: 'open',
        reason: 'probe: reset',
        at: Date.now(),
        instanceId: 'node-1',
      }),
    );
    const applied: PathHealthEvent[] = [];
    const mine: PathHealthEvent = {
      pathId: 'edge-a',
      state: 'open',
      reason: 'failures',
      at: Date.now(),
      instanceId: 'worker-1',
    };
    const store = new WorkerRedisHealthStore({ connect: () => connectResp(nodeUrl, openNet) });
    store.join({
      instanceId: 'worker-1',
      quorum: 1,
      reportTtlMs: 10_000,
      localStates: () => [mine],
      apply: (e) => applied.push(e),
    });
    store.publish(mine);
    await store.sync();
    expect(JSON.parse((await c.hget(HEALTH_STATE_KEY, 'edge-a'))!)).toMatchObject({
      state: 'open',
      instanceId: 'worker-1',
    });
    expect(applied).toMatchObject([{ pathId: 'edge-b', state: 'open', instanceId: 'node-1' }]);
    await c.hdel(HEALTH_STATE_KEY, 'edge-a', 'edge-b');
  });

  describe('two gateways on the Cluster', () => {
    let rig: DetectionRig | undefined;
    afterEach(async () => {
      await rig?.stop();
      rig = undefined;
      // A test that killed a node brings it back, so the next one starts on a whole cluster.
      for (const node of cluster.nodes) await node.restart();
      await cluster.waitUntilOk();
    });

    it('share health: a trip seen by one is applied by the other, which sends no payment', async () => {
      rig = await DetectionRig.start();
      const policy = rig.policy({ probe: { enabled: true, intervalMs: 100, timeoutMs: 1_000 } });
      const first = await rig.gateway(policy, { redisUrl: cluster.url, instanceId: 'c-1' });
      const second = await rig.gateway(policy, {
        redisUrl: cluster.url,
        instanceId: 'c-2',
        probes: false,
      });
      await waitSubscribed(cluster, 2);

      await rig.carrier('a').setMode({ mode: 'blackhole' });
      await expect.poll(() => pathState(first, 'a'), POLL).toBe('open');
      await expect.poll(() => pathState(second, 'a'), POLL).toBe('open');
      const status = (await (await fetch(`${second.url}/status`)).json()) as {
        paths: { id: string; transitions: { reason: string }[] }[];
      };
      expect(status.paths.find((p) => p.id === 'a')?.transitions.at(-1)?.reason).toMatch(
        /^peer c-1: probe: /,
      );
      expect(rig.processor.requests.get('/v1/payments') ?? 0).toBe(0);
      expect(await pathState(second, 'b')).toBe('closed');
    });

    it('keeps every payment going while a node is SIGKILLed; a cut seen meanwhile reaches the other gateway once it is back', async () => {
      rig = await DetectionRig.start();
      // A generous probe timeout: this test is about Redis, and the box is busy with the payment streams.
      const policy = rig.policy({ probe: { enabled: true, intervalMs: 100, timeoutMs: 1_500 } });
      // The paths whose transition the first gateway failed to write to Redis, as it logs them.
      const writesFailed: string[] = [];
      const logger = {
        ...silentLogger,
        debug: (fields: { event?: string; path?: string }) => {
          if (fields.event === 'health_store_write_failed') writesFailed.push(fields.path ?? '');
        },
      };
      const first = await rig.gateway(policy, {
        redisUrl: cluster.url,
        instanceId: 'k-1',
        logger,
      });
      const second = await rig.gateway(policy, {
        redisUrl: cluster.url,
        instanceId: 'k-2',
        probes: false,
      });
      await waitSubscribed(cluster, 2);
      const c = await client();
      // The node holding the health keys: while it is gone no transition can be shared at all.
      const victim = await cluster.ownerOf(Number(await c.cluster('KEYSLOT', HEALTH_STATE_KEY)));
      const survivor = cluster.nodes.find((n) => n !== victim)!;

      const answers: { status: number; path: string | null; body?: string }[] = [];
      let stop = false;
      const stream = async (gateway: typeof first) => {
        // Bounded in count; each payment is bounded by its route's deadline.
        for (let i = 0; i < 1_000 && !stop; i++) {
          const answer = await pay(gateway);
          // The body of a failure goes into the assertion message, so a failure says which layer answered.
          answers.push({
            status: answer.status,
            path: answer.path,
            ...(answer.status === 201 ? {} : { body: answer.body }),
          });
        }
      };
      const streams = [stream(first), stream(second)];
      // Each phase lasts until payments have been answered in it (not for a fixed time), so every
      // phase is shown to carry payments however busy the machine is.
      const paymentsAnswered = async (phase: string, count = 6) => {
        const from = answers.length;
        await until(`${count} payments answered ${phase}`, () => answers.length >= from + count, {
          timeoutMs: 15_000,
        });
      };
      try {
        await paymentsAnswered('before the kill');
        await victim.kill();
        // Path a breaks while the node is gone: payments fail over with no help from Redis.
        await rig.carrier('a').setMode({ mode: 'reset' });
        // Past the cluster's node timeout (1 s) the others declare the cluster down (no replicas).
        let state = '';
        await until(
          'a surviving node to report the cluster down',
          async () => (state = await clusterState(survivor)) === 'fail',
          { timeoutMs: 10_000, intervalMs: 100, state: () => state },
        );
        await paymentsAnswered('while the cluster is down');
      } finally {
        stop = true;
        await Promise.allSettled(streams);
      }
      expect(answers.filter((a) => a.status !== 201)).toEqual([]);
      expect(answers.some((a) => a.path === 'b')).toBe(true); // the failover happened during the outage
      // Each answered payment charged, and once.
      expect(rig.processor.duplicateCharges).toBe(0);
      expect(rig.processor.charges).toHaveLength(answers.length);

      // With no traffic on the second gateway, path c's cut can reach it only through Redis.
      await rig.carrier('c').setMode({ mode: 'reset' });
      await expect.poll(() => pathState(first, 'c'), POLL).toBe('open');
      // The record script that would publish the opening runs on the node that is gone: once the
      // first gateway's write of it has failed, nothing was published, and the second still has
      // path c closed (retries fail alike until the node is back).
      await until(
        "the first gateway's write of path c's opening to fail",
        () => writesFailed.includes('c'),
        { timeoutMs: 5_000 },
      );
      expect(await pathState(second, 'c')).toBe('closed');
      await victim.restart();
      await cluster.waitUntilOk();
      // No reconnect is announced (the Cluster client stayed ready): the periodic refresh shares it.
      await expect.poll(() => pathState(second, 'c'), POLL).toBe('open');
    });
  });
});

/** A node:net socket as the byte stream pair the RESP client takes (cloudflare:sockets on Workers). */
const openNet: OpenStream = (host, port) => {
  const socket = connect({ host, port });
  const { readable, writable } = Duplex.toWeb(socket) as unknown as {
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  };
  return { readable, writable, close: () => void socket.destroy() };
};

/** What CLUSTER INFO on `node` says of the cluster: ok or fail ('unreachable' if it does not answer). */
async function clusterState(node: TestRedisServer): Promise<string> {
  const direct = new Redis(node.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });
  direct.on('error', () => {});
  try {
    const info = (await direct.cluster('INFO')) as string;
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
  } catch {
    return 'unreachable';
  } finally {
    direct.disconnect();
  }
}

/** Waits until `count` subscriptions to the health channel exist, summed over the nodes (each counts its own). */
async function waitSubscribed(cluster: TestRedisCluster, count: number): Promise<void> {
  const nodes = cluster.nodes
    .filter((n) => n.running)
    .map((n) => new Redis(n.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 }));
  try {
    await expect
      .poll(async () => {
        const counts = await Promise.all(
          nodes.map(
            async (n) =>
              ((await n.call('PUBSUB', 'NUMSUB', HEALTH_CHANNEL)) as [string, number])[1],
          ),
        );
        return counts.reduce((a, b) => a + b, 0);
      }, POLL)
      .toBe(count);
  } finally {
    for (const n of nodes) n.disconnect();
  }
}
