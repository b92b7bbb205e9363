import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  HEALTH_RECORD_SCRIPT,
  HEALTH_STATE_KEY,
  healthRecordArgs,
} from '../src/core/health/redis-layout.ts';
import { silentLogger } from '../src/core/logger.ts';
import { policyHash } from '../src/core/policy/hash.ts';
import { validatePolicyObject } from '../src/core/policy/parse.ts';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import { CarrierProxy } from '../src/demo/carrier.ts';
import { until } from './support/poll.ts';
import { deliveredAndIdle } from './support/rig.ts';
import { TestRedisServer } from './support/redis-server.ts';
import { SimulatedProcessor } from '../src/demo/processor.ts';
import { WranglerDev } from './support/wrangler-dev.ts';

// The Worker build in real workerd (wrangler dev, offline), in front of the simulated processor
// and carrier fault proxies on loopback. At the edge each path is a distinct endpoint.
// Starting workerd takes seconds, so each describe shares one Worker; its beforeEach brings the
// Worker back to a known state (every carrier up, every path closed), so no test relies on another.

const IDS = ['edge-a', 'edge-b', 'edge-c'] as const;
let processor: SimulatedProcessor;
const carriers = new Map<string, CarrierProxy>();
let worker: WranglerDev;
let redis: TestRedisServer;
/** Writes to the Worker's Redis as a peer instance would. */
let peer: Redis;
let policy: Record<string, unknown>;

beforeAll(async () => {
  redis = await TestRedisServer.start();
  peer = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  processor = await new SimulatedProcessor().start();
  for (const [i, id] of IDS.entries()) {
    carriers.set(
      id,
      await new CarrierProxy({
        name: id,
        host: `127.0.2.${i + 1}`,
        target: { host: '127.0.0.1', port: processor.port },
      }).start(),
    );
  }
  policy = {
    version: 1,
    paths: IDS.map((id) => ({ id, upstream: carriers.get(id)!.url })),
    breaker: {
      volumeThreshold: 2,
      errorThresholdPercentage: 50,
      resetTimeoutMs: 1_500,
      windowMs: 10_000,
    },
    // Probes would find the cut carriers themselves; the shared-health test is about learning from a peer.
    probe: { enabled: false },
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: [...IDS],
        attemptTimeoutMs: 400,
        deadlineMs: 5_000,
        idempotency: { header: 'Idempotency-Key', upstreamHonors: true },
      },
      {
        id: 'via-c',
        match: { method: 'POST', path: '/v1/via-c' },
        class: 'payment',
        paths: ['edge-c', 'edge-b'],
        attemptTimeoutMs: 400,
        idempotency: { header: 'Idempotency-Key', upstreamHonors: true },
      },
    ],
  };
  worker = await WranglerDev.start({
    PAYPATH_POLICY: JSON.stringify(policy),
    REDIS_URL: redis.url,
  });
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  for (const carrier of carriers.values()) await carrier.stop();
  await processor?.stop();
  peer?.disconnect();
  await redis?.stop();
});

/** Every carrier up, and nothing they held still on its way to the processor. */
async function carriersUp(): Promise<void> {
  for (const carrier of carriers.values()) await carrier.setMode({ mode: 'up' });
  await deliveredAndIdle(processor, carriers.values());
}

async function pay(reference: string, base = worker.url, path = '/v1/payments') {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `key-${reference}` },
    body: JSON.stringify({ amount: 1200, reference }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return {
    status: response.status,
    path: response.headers.get('x-paypath-path'),
    attempts: response.headers.get('x-paypath-attempts'),
  };
}

interface PathStatus {
  id: string;
  state: string;
  requests: number;
}

async function pathsOf(base = worker.url): Promise<PathStatus[]> {
  const response = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5_000) });
  return ((await response.json()) as { paths: PathStatus[] }).paths;
}

async function pathStatus(id: string, base = worker.url): Promise<PathStatus> {
  return (await pathsOf(base)).find((p) => p.id === id)!;
}

async function pathState(id: string, base = worker.url): Promise<string> {
  return (await pathStatus(id, base)).state;
}

describe('the Worker in workerd', () => {
  beforeEach(async () => {
    await carriersUp();
    const notClosed = (await pathsOf()).filter((p) => p.state !== 'closed').map((p) => p.id);
    if (notClosed.length === 0) return;
    // Probes are off here, so an open path would close only through a payment's trial once its
    // reset timeout is over. A peer's "closed" in the shared state closes it now: the Worker
    // applies what peers share (newer than its own transitions) on its next requests.
    for (const pathId of notClosed) {
      const event = { pathId, state: 'closed' as const, reason: 'test reset', at: Date.now() };
      await peer.eval(
        HEALTH_RECORD_SCRIPT,
        2,
        ...healthRecordArgs({ ...event, instanceId: 'test-reset' }, event.at, 10_000, 1),
      );
    }
    await until(
      'every path of the Worker closed',
      async () => (await pathsOf()).every((p) => p.state === 'closed'),
      { timeoutMs: 10_000, intervalMs: 50, state: () => pathsOf() },
    );
  });

  it('forwards a payment over the first path', async () => {
    expect(await pay('w-ok')).toEqual({ status: 201, path: 'edge-a', attempts: '1' });
  });

  it.each([
    ['refuses', { mode: 'refuse' as const }],
    ['resets', { mode: 'reset' as const }],
    ['is blackholed', { mode: 'blackhole' as const }],
  ])('fails over when the first path %s, charging once', async (name, mode) => {
    await carriers.get('edge-a')!.setMode(mode);
    try {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await pay(`w-${mode.mode}-${i}`));
      expect(results.every((r) => r.status === 201 && r.path !== 'edge-a')).toBe(true);
    } finally {
      await carriers.get('edge-a')!.setMode({ mode: 'up' });
    }
    await deliveredAndIdle(processor, carriers.values()); // held (blackholed) requests land now, and must replay
    for (let i = 0; i < 4; i++) expect(processor.chargesFor(`w-${mode.mode}-${i}`), name).toBe(1);
  });

  it('keeps breaker state across requests and recovers after the reset timeout (no timers needed)', async () => {
    const references: string[] = [];
    const payment = async (reference: string) => {
      references.push(reference);
      return await pay(reference);
    };
    await carriers.get('edge-b')!.setMode({ mode: 'refuse' });
    await carriers.get('edge-a')!.setMode({ mode: 'refuse' });
    // Each payment's failure on edge-a is kept for the next: they add up until edge-a opens (within
    // breaker.consecutiveFailures, 5, whatever successes its window still holds).
    for (let i = 0; i < 5 && (await pathState('edge-a')) !== 'open'; i++)
      expect((await payment(`w-open-${i}`)).path).toBe('edge-c');
    expect(await pathState('edge-a')).toBe('open');
    await carriers.get('edge-a')!.setMode({ mode: 'up' });
    await carriers.get('edge-b')!.setMode({ mode: 'up' });
    // An opossum breaker kept across requests in workerd would stay open for ever; this one half-opens.
    let i = 0;
    await expect
      .poll(async () => (await payment(`w-back-${i++}`)).path, { timeout: 6_000, interval: 250 })
      .toBe('edge-a');
    expect(await pathState('edge-a')).toBe('closed');
    await deliveredAndIdle(processor, carriers.values());
    for (const reference of references) expect(processor.chargesFor(reference), reference).toBe(1);
  });

  it('shares health with a Node instance through Redis, both ways', async () => {
    const parsed = validatePolicyObject(policy);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    let node: RunningGateway | undefined;
    try {
      node = await startNodeGateway({
        policy: parsed.policy,
        policyHash: await policyHash(parsed.policy),
        port: 0,
        redisUrl: redis.url,
        logger: silentLogger,
        warmCodePaths: false,
      });
      const nodeUrl = node.url;

      // Node learns first: edge-a refuses, the Node gateway's payments trip it.
      await carriers.get('edge-a')!.setMode({ mode: 'refuse' });
      for (let i = 0; i < 3; i++) expect((await pay(`n-${i}`, nodeUrl)).status).toBe(201);
      expect(await pathState('edge-a', nodeUrl)).toBe('open');
      // The Worker honours it without a payment of its own meeting the dead path.
      await expect.poll(() => pathState('edge-a'), { timeout: 8_000, interval: 300 }).toBe('open');
      expect(await pay('w-shared-1')).toMatchObject({ status: 201, path: 'edge-b', attempts: '1' });
      await carriers.get('edge-a')!.setMode({ mode: 'up' });

      // The Worker learns: edge-c refuses, its payments on the route that tries edge-c first trip it.
      await carriers.get('edge-c')!.setMode({ mode: 'refuse' });
      // (Its window may hold successes of earlier payments: it opens within breaker.consecutiveFailures, 5.)
      for (let i = 0; i < 5 && (await pathState('edge-c')) !== 'open'; i++) {
        expect(await pay(`w-c-${i}`, worker.url, '/v1/via-c')).toMatchObject({
          status: 201,
          path: 'edge-b',
        });
      }
      expect(await pathState('edge-c')).toBe('open');
      // The Node instance applies it (published by the Worker after its answers), having sent nothing there.
      await expect
        .poll(() => pathState('edge-c', nodeUrl), { timeout: 8_000, interval: 200 })
        .toBe('open');
      expect((await pathStatus('edge-c', nodeUrl)).requests).toBe(0);
    } finally {
      await carriers.get('edge-c')!.setMode({ mode: 'up' });
      await carriers.get('edge-a')!.setMode({ mode: 'up' });
      await node?.close();
    }
  });
});

interface ProbedPath {
  id: string;
  state: string;
  requests: number;
  lastProbe: { latencyMs: number; at: string; error: string | null } | null;
  transitions: { reason: string }[];
}

interface ProbedStatus {
  redundancy: { level: string };
  paths: ProbedPath[];
}

interface Alarm {
  id: string;
  event: string;
  cause: { path: string; reason: string } | null;
}

// Probes in workerd, where no timer outlives a request: due probes ride on requests (in the
// background), and the Cron Trigger's scheduled handler runs a round. A Worker of its own, with
// probes on, and a Redis of its own so nothing the Worker above shared leaks in.
describe('the Worker probes its paths without timers', () => {
  const PROBE = { intervalMs: 500, timeoutMs: 400 };
  let prober: WranglerDev;
  let probeRedis: TestRedisServer;
  let reader: Redis;
  /** Receives the Worker's redundancy alarms. */
  let alarmReceiver: Server;
  const alarmDeliveries: (Alarm & { status: number })[] = [];
  /** When set, the first delivery it matches is refused (503) and the rule is cleared. */
  let refuseFirst: ((alarm: Alarm) => boolean) | undefined;

  beforeAll(async () => {
    alarmReceiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const alarm = JSON.parse(body) as Alarm;
        const refuse = refuseFirst?.(alarm) === true;
        if (refuse) refuseFirst = undefined;
        const status = refuse ? 503 : 204;
        alarmDeliveries.push({ id: alarm.id, event: alarm.event, cause: alarm.cause, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => alarmReceiver.listen(0, '127.0.0.1', resolve));
    probeRedis = await TestRedisServer.start();
    reader = new Redis(probeRedis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const probed = {
      ...policy,
      probe: { enabled: true, path: '/health', ...PROBE },
      // A minute: an open path in these tests closes only through a passing probe.
      breaker: {
        volumeThreshold: 2,
        errorThresholdPercentage: 50,
        resetTimeoutMs: 60_000,
        windowMs: 10_000,
      },
      redundancy: {
        webhooks: [`http://127.0.0.1:${(alarmReceiver.address() as AddressInfo).port}/alarms`],
      },
    };
    prober = await WranglerDev.start(
      { PAYPATH_POLICY: JSON.stringify(probed), REDIS_URL: probeRedis.url },
      { testScheduled: true },
    );
  }, 90_000);

  afterAll(async () => {
    await prober?.stop();
    reader?.disconnect();
    await probeRedis?.stop();
    alarmReceiver?.closeAllConnections();
    await new Promise((resolve) => alarmReceiver?.close(resolve));
  });

  beforeEach(async () => {
    refuseFirst = undefined;
    await carriersUp();
    // The polls are requests, which start the due probes; a passing probe closes an open path.
    await until(
      'every path closed with a passing last probe, redundancy N+2, and none open in Redis',
      async () => {
        const now = await status();
        if (now.redundancy.level !== 'N+2') return false;
        if (!now.paths.every((p) => p.state === 'closed' && p.lastProbe?.error === null))
          return false;
        for (const id of IDS) if ((await shared(id))?.state === 'open') return false;
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 100, state: status },
    );
    // A Cron round last: it probes every path and waits for those probes, shares what they found
    // and waits for the alarm deliveries raised so far. None is in flight when a test starts.
    await prober.scheduled();
  });

  async function status(): Promise<ProbedStatus> {
    const response = await fetch(`${prober.url}/status`, { signal: AbortSignal.timeout(5_000) });
    return (await response.json()) as ProbedStatus;
  }
  const probed = async (id: string) => (await status()).paths.find((p) => p.id === id)!;

  /** What the Worker shared through Redis for a path (read straight from Redis: no request reaches the Worker). */
  async function shared(id: string): Promise<{ state: string; reason: string } | null> {
    const json = await reader.hget(HEALTH_STATE_KEY, id);
    return json === null ? null : (JSON.parse(json) as { state: string; reason: string });
  }

  it('a request starts a due probe in the background; a blackholed path opens with no payment meeting it', async () => {
    const edgeA = carriers.get('edge-a')!;
    // The Cron round of beforeEach probed every path: the next probes fall due an interval later,
    // started by whichever request comes then. Nothing of edge-a is held in a carrier yet.
    expect(edgeA.heldBytes).toBe(0);
    await edgeA.setMode({ mode: 'blackhole' });
    try {
      // Each request starts the probes that are due. Edge-a's probe is then held in the cut (its
      // request shows in the carrier) until its timeout fails it.
      await until(
        'a probe of edge-a held in the cut, started by one of these requests',
        async () => {
          if (edgeA.heldBytes > 0) return true;
          // No probe has met the cut yet: nothing can have opened edge-a.
          expect((await probed('edge-a')).state).toBe('closed');
          return false;
        },
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      // The requests did not wait for it: this one, sent while it is held in the cut, finds edge-a
      // closed, its last finished probe still the passing one.
      const during = await probed('edge-a');
      expect(during).toMatchObject({ state: 'closed', lastProbe: { error: null } });

      await until('edge-a open', async () => (await probed('edge-a')).state === 'open', {
        timeoutMs: 5_000,
        intervalMs: 100,
        state: status,
      });
      const opened = await probed('edge-a');
      expect(opened.transitions.at(-1)?.reason).toBe('probe: response_timeout');
      expect(opened.lastProbe).toMatchObject({ error: 'response_timeout' });
      // By the Worker's own clock, the probe that failed finished after the one that passed.
      expect(Date.parse(opened.lastProbe!.at)).toBeGreaterThan(Date.parse(during.lastProbe!.at));
      expect(opened.requests).toBe(during.requests); // probes only: no payment was sent there

      // The next payment goes straight to edge-b: one attempt, none spent waiting on edge-a.
      expect(await pay('wp-after-probe', prober.url)).toEqual({
        status: 201,
        path: 'edge-b',
        attempts: '1',
      });
      expect((await probed('edge-a')).requests).toBe(during.requests);
      expect(processor.chargesFor('wp-after-probe')).toBe(1);
    } finally {
      await edgeA.setMode({ mode: 'up' });
    }
    // Probes drive the recovery too: the reset timeout is a minute, so only a passing probe closes it.
    await until('edge-a closed again', async () => (await probed('edge-a')).state === 'closed', {
      timeoutMs: 5_000,
      intervalMs: 100,
      state: status,
    });
    expect((await probed('edge-a')).transitions.at(-1)?.reason).toBe('probe-succeeded');
  });

  it("the Cron Trigger probes an idle Worker's paths, opens a refusing one with no request at all, and shares it through Redis", async () => {
    expect((await shared('edge-c'))?.state ?? 'closed').toBe('closed');
    const before = await probed('edge-c');
    const payments = processor.requests.get('/v1/payments') ?? 0;
    const probesSeen = processor.requests.get('/health') ?? 0;

    await carriers.get('edge-c')!.setMode({ mode: 'refuse' });
    try {
      // No request reaches the Worker's fetch handler from here until Redis shows the trip.
      await prober.scheduled('* * * * *');
      const record = await shared('edge-c');
      expect(record).toMatchObject({
        state: 'open',
        reason: expect.stringMatching(/^probe: (connection_lost|connect_refused)$/),
      });
      expect(processor.requests.get('/v1/payments') ?? 0).toBe(payments);
      expect(processor.requests.get('/health') ?? 0).toBeGreaterThanOrEqual(probesSeen + 2); // edge-a and edge-b were probed too

      const c = await probed('edge-c');
      expect(c).toMatchObject({
        state: 'open',
        requests: before.requests,
        lastProbe: { error: expect.stringMatching(/^(connection_lost|connect_refused)$/) },
      });
      // A payment on the route that tries edge-c first does not meet it.
      expect(await pay('wp-after-cron', prober.url, '/v1/via-c')).toEqual({
        status: 201,
        path: 'edge-b',
        attempts: '1',
      });
      expect((await probed('edge-c')).requests).toBe(before.requests);
    } finally {
      await carriers.get('edge-c')!.setMode({ mode: 'up' });
    }
    // The next Cron round finds edge-c back and shares that too.
    await prober.scheduled('* * * * *');
    expect(await shared('edge-c')).toMatchObject({ state: 'closed', reason: 'probe-succeeded' });
  });

  it('with every carrier cut, finds every path down from timestamps alone, refuses payments unsent, and comes back', async () => {
    const level = async () => (await status()).redundancy.level;
    const readyz = async () =>
      await fetch(`${prober.url}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
        async (r) => (await r.arrayBuffer(), r.status),
      );
    for (const id of IDS) await carriers.get(id)!.setMode({ mode: 'blackhole' });
    try {
      // Only requests drive the probes here: each poll starts the due ones, and the verdict is
      // reached from the timestamps they leave (redundancy.downAfterMs, 3 s by default).
      await expect.poll(level, { timeout: 20_000, interval: 200 }).toBe('down');
      expect(await readyz()).toBe(503);
      expect(await pay('wp-all-down', prober.url)).toEqual({
        status: 503,
        path: null,
        attempts: null,
      });
    } finally {
      for (const id of IDS) await carriers.get(id)!.setMode({ mode: 'up' });
    }
    await expect.poll(level, { timeout: 20_000, interval: 200 }).toBe('N+2');
    expect(await readyz()).toBe(200);
    expect(await pay('wp-all-back', prober.url)).toMatchObject({ status: 201 });
    await deliveredAndIdle(processor, carriers.values()); // what the cut held lands now
    expect(processor.chargesFor('wp-all-down')).toBe(0); // refused: never sent, not even late
    expect(processor.chargesFor('wp-all-back')).toBe(1);
  });

  it('delivers redundancy alarms from workerd, retrying a refused delivery with backoff', async () => {
    const from = alarmDeliveries.length;
    // This test's alarms are about edge-b; the first delivery of its drop is refused.
    const ours = (alarm: Alarm) => alarm.cause?.path === 'edge-b';
    refuseFirst = (alarm) => ours(alarm) && alarm.event === 'redundancy.dropped';
    await carriers.get('edge-b')!.setMode({ mode: 'refuse' });
    try {
      // A Cron round probes edge-b, which refuses: it opens and redundancy drops to N+1. The
      // round ends once the alarm is delivered, retries included (as after a request's answer).
      await prober.scheduled();
    } finally {
      await carriers.get('edge-b')!.setMode({ mode: 'up' });
    }
    // The next round finds edge-b back: redundancy recovers.
    await prober.scheduled();
    const deliveries = alarmDeliveries.slice(from).filter(ours);
    expect(deliveries.map((d) => [d.event, d.status])).toEqual([
      ['redundancy.dropped', 503],
      ['redundancy.dropped', 204],
      ['redundancy.recovered', 204],
    ]);
    expect(deliveries[1]!.id).toBe(deliveries[0]!.id); // the same alarm, delivered again
    expect(deliveries[2]!.id).not.toBe(deliveries[0]!.id);
  });
});
