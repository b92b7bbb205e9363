import { afterEach, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/adapters/node/server.ts';
import { DetectionRig, pathState, pay } from './support/detection-harness.ts';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import {
  HEALTH_CHANNEL,
  HEALTH_RECORD_SCRIPT,
  HEALTH_STATE_KEY,
  healthRecordArgs,
  healthReportersKey,
  parseHealthEvent,
} from '../src/core/health/redis-layout.ts';
import { POLL, until } from './support/poll.ts';
import { TestRedisServer } from './support/redis-server.ts';

describe('shared health through Redis', () => {
  let rig: DetectionRig | undefined;
  let redis: TestRedisServer | undefined;
  afterEach(async () => {
    await rig?.stop();
    await redis?.stop();
    rig = redis = undefined;
  });

  it('applies a cut seen by one instance on the other two without any payment through them', async () => {
    rig = await DetectionRig.start();
    redis = await TestRedisServer.start();
    // Only the first instance probes; the other two can learn of the cut only through Redis.
    const probing = rig.policy({ probe: { enabled: true, intervalMs: 100, timeoutMs: 1_000 } });
    const first = await rig.gateway(probing, { redisUrl: redis.url, instanceId: 'gw-1' });
    const second = await rig.gateway(probing, {
      redisUrl: redis.url,
      instanceId: 'gw-2',
      probes: false,
    });
    const third = await rig.gateway(probing, {
      redisUrl: redis.url,
      instanceId: 'gw-3',
      probes: false,
    });
    await waitSubscribed(redis, 3);

    await rig.carrier('a').setMode({ mode: 'blackhole' });
    await expect.poll(() => pathState(first, 'a'), POLL).toBe('open');
    await expect.poll(() => pathState(second, 'a'), POLL).toBe('open');
    await expect.poll(() => pathState(third, 'a'), POLL).toBe('open');
    for (const g of [second, third]) {
      const status = (await (await fetch(`${g.url}/status`)).json()) as {
        paths: { id: string; transitions: { reason: string }[] }[];
      };
      expect(status.paths.find((p) => p.id === 'a')?.transitions.at(-1)?.reason).toMatch(
        /^peer gw-1: probe: /,
      );
    }
    expect(rig.processor.requests.get('/v1/payments') ?? 0).toBe(0);
    expect(await pathState(second, 'b')).toBe('closed');

    // Recovery travels the same way: the first instance's passing probe closes the path everywhere.
    await rig.carrier('a').setMode({ mode: 'up' });
    await expect.poll(() => pathState(second, 'a'), POLL).toBe('closed');
    await expect.poll(() => pathState(third, 'a'), POLL).toBe('closed');
  });

  it('opens a path cluster-wide only when breaker.quorum instances report it failing', async () => {
    rig = await DetectionRig.start();
    redis = await TestRedisServer.start();
    const policy = rig.policy({
      probe: { enabled: true, intervalMs: 100, timeoutMs: 300 },
      breaker: { resetTimeoutMs: 60_000, quorum: 2 },
    });
    const [one, two, three] = await Promise.all(
      ['q-1', 'q-2', 'q-3'].map((instanceId) =>
        rig!.gateway(policy, { redisUrl: redis!.url, instanceId, probes: false }),
      ),
    );
    await waitSubscribed(redis, 3);
    await rig.carrier('b').setMode({ mode: 'reset' });

    expect((await one!.gateway.probeNow('b')).ok).toBe(false);
    expect(await pathState(one!, 'b')).toBe('open');
    // One report is below the quorum. The record script that counts it would have published the
    // opening in the same step: once the report is in Redis, a marker published after it (a
    // transition of path c, on a connection of the test's own) reaches instance three after any
    // such publish would have. When three has applied the marker, it has seen no opening of b.
    const client = createRedisClient(redis.url);
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      await until(
        "instance one's report of path b in Redis",
        async () => (await client.zscore(healthReportersKey('b'), 'q-1')) !== null,
        { timeoutMs: 5_000 },
      );
      const marker = {
        pathId: 'c',
        state: 'open',
        reason: 'marker',
        at: Date.now(),
        instanceId: 'q-9',
      };
      await client.publish(HEALTH_CHANNEL, JSON.stringify(marker));
      await expect.poll(() => pathState(three!, 'c'), POLL).toBe('open');
    } finally {
      client.disconnect();
    }
    expect(await pathState(three!, 'b')).toBe('closed');

    expect((await two!.gateway.probeNow('b')).ok).toBe(false);
    await expect.poll(() => pathState(three!, 'b'), POLL).toBe('open');
  });

  it('applies and stores a transition only when it is newer than the one it would replace', async () => {
    rig = await DetectionRig.start();
    redis = await TestRedisServer.start();
    const policy = rig.policy({ probe: { enabled: true, intervalMs: 100, timeoutMs: 1_000 } });
    // Neither probes by itself: each transition below is one the test asks for.
    const first = await rig.gateway(policy, {
      redisUrl: redis.url,
      instanceId: 'n-1',
      probes: false,
    });
    const second = await rig.gateway(policy, {
      redisUrl: redis.url,
      instanceId: 'n-2',
      probes: false,
    });
    await waitSubscribed(redis, 2);
    await rig.carrier('a').setMode({ mode: 'reset' });
    expect((await first.gateway.probeNow('a')).ok).toBe(false);
    await expect.poll(() => pathState(second, 'a'), POLL).toBe('open');
    await rig.carrier('a').setMode({ mode: 'up' });
    expect((await first.gateway.probeNow('a')).ok).toBe(true);
    await expect.poll(() => pathState(second, 'a'), POLL).toBe('closed');

    const client = createRedisClient(redis.url);
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      const stored = await client.hget(HEALTH_STATE_KEY, 'a');
      const recovery = parseHealthEvent(stored ?? '');
      expect(recovery).toMatchObject({ state: 'closed', instanceId: 'n-1' });
      // What an instance cut off from Redis writes again once it is back: its opening, older
      // than the recovery the others have seen since.
      const late = {
        pathId: 'a',
        state: 'open' as const,
        reason: 'failures',
        at: recovery!.at - 1_000,
        instanceId: 'n-3',
      };

      // Published before the newer transition was written (as when the two writes cross):
      // neither instance applies it. A newer transition of path c, published after it on the
      // same connection, shows when both have read it.
      await client.publish(HEALTH_CHANNEL, JSON.stringify(late));
      const marker = { ...late, pathId: 'c', at: Date.now() };
      await client.publish(HEALTH_CHANNEL, JSON.stringify(marker));
      for (const g of [first, second]) {
        await expect.poll(() => pathState(g, 'c'), POLL).toBe('open');
        expect(await pathState(g, 'a')).toBe('closed');
      }

      // Written after it: the stored recovery stays, and nothing is published.
      const [stateKey, reportersKey, ...args] = healthRecordArgs(late, Date.now(), 10_000, 1);
      expect(await client.eval(HEALTH_RECORD_SCRIPT, 2, stateKey!, reportersKey!, ...args)).toBe(
        -2,
      );
      expect(await client.hget(HEALTH_STATE_KEY, 'a')).toBe(stored);
    } finally {
      client.disconnect();
    }
  });

  it('keeps every payment going while Redis is killed, paused and restarted, then resynchronises', async () => {
    rig = await DetectionRig.start();
    redis = await TestRedisServer.start();
    // A generous probe timeout: this test is about Redis, and the box is busy with three payment streams.
    const policy = rig.policy({ probe: { enabled: true, intervalMs: 100, timeoutMs: 1_500 } });
    const first = await rig.gateway(policy, { redisUrl: redis.url, instanceId: 'r-1' });
    const second = await rig.gateway(policy, {
      redisUrl: redis.url,
      instanceId: 'r-2',
      probes: false,
    });

    const answers: { status: number; path: string | null; body?: string }[] = [];
    let stop = false;
    const stream = async (gateway: typeof first) => {
      // Bounded in count; each payment is bounded by its route's deadline.
      for (let i = 0; i < 2_000 && !stop; i++) {
        const answer = await pay(gateway);
        // The body of a failure goes into the assertion message, so a failure says which layer answered.
        answers.push({
          status: answer.status,
          path: answer.path,
          ...(answer.status === 201 ? {} : { body: answer.body }),
        });
      }
    };
    const streams = [stream(first), stream(second), stream(first)];
    // Each phase lasts until payments have been answered in it (not for a fixed time), so every
    // phase is shown to carry payments however busy the machine is.
    const paymentsAnswered = async (phase: string, count = 6) => {
      const from = answers.length;
      await until(`${count} payments answered ${phase}`, () => answers.length >= from + count, {
        timeoutMs: 15_000,
      });
    };

    await paymentsAnswered('before the outage');
    await redis.kill();
    // Transitions while Redis is gone: the payments' own path breaks, and the writes have nowhere to go.
    await rig.carrier('a').setMode({ mode: 'reset' });
    await paymentsAnswered('while Redis is gone and path a resets');
    // No wait for the stores to reconnect (they back off up to 1 s): Redis may hang before they
    // have written what they saw while it was gone.
    await redis.restart();
    await paymentsAnswered('after Redis restarted');
    redis.pause();
    // While Redis hangs, path a recovers: the probe's trial-lock request has to time out first.
    await rig.carrier('a').setMode({ mode: 'up' });
    await until(
      'path a to close again on the probing instance while Redis hangs',
      async () => (await pathState(first, 'a')) === 'closed',
      { timeoutMs: 15_000 },
    );
    await paymentsAnswered('while Redis hangs');
    redis.resume();
    // The recovery seen while Redis hung reaches the other instance once it answers again.
    await expect.poll(() => pathState(second, 'a'), POLL).toBe('closed');
    await paymentsAnswered('after Redis resumed');
    stop = true;
    await Promise.all(streams);

    expect(answers.filter((a) => a.status !== 201)).toEqual([]);
    expect(answers.some((a) => a.path === 'b')).toBe(true); // the failover happened during the outage
    // Each answered payment charged, and once.
    expect(rig.processor.duplicateCharges).toBe(0);
    expect(rig.processor.charges).toHaveLength(answers.length);
    // Newest wins: the second instance's own opening of path a, seen during the outage and written
    // again when Redis came back, is older than the recovery the first saw while Redis hung, and
    // must not undo it there.
    const reasons = await transitionReasons(first, 'a');
    expect(reasons.slice(reasons.indexOf('probe-succeeded'))).not.toContainEqual(
      expect.stringMatching(/^peer r-2: /),
    );

    // Resync: a cut the first instance sees while Redis is down reaches the second once Redis is back.
    await redis.kill();
    // (reset, not refuse: CarrierProxy's refuse waits for open connections before closing its listener)
    await rig.carrier('a').setMode({ mode: 'reset' });
    await expect.poll(() => pathState(first, 'a'), POLL).toBe('open');
    expect(await pathState(second, 'a')).toBe('closed');
    await redis.restart();
    // No wait for the subscribers: what is published before they are back is read on resync.
    await expect.poll(() => pathState(second, 'a'), POLL).toBe('open');
  });
});

/** The reasons of a path's breaker transitions on one gateway, oldest first. */
async function transitionReasons(gateway: RunningGateway, pathId: string): Promise<string[]> {
  const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
    paths: { id: string; transitions: { reason: string }[] }[];
  };
  return status.paths.find((p) => p.id === pathId)?.transitions.map((t) => t.reason) ?? [];
}

const POL_READY = { timeout: 5_000, interval: 50 };

/** Waits until `count` gateways' subscriber connections are listening (so a publish is not missed). */
async function waitSubscribed(redis: TestRedisServer, count: number): Promise<void> {
  const client = createRedisClient(redis.url);
  try {
    await new Promise((resolve) => client.once('ready', resolve));
    await expect
      .poll(
        async () =>
          ((await client.call('PUBSUB', 'NUMSUB', HEALTH_CHANNEL)) as [string, number])[1],
        POL_READY,
      )
      .toBe(count);
  } finally {
    client.disconnect();
  }
}
