import { afterEach, describe, expect, it } from 'vitest';
import { DetectionRig, pathState, pay } from './support/detection-harness.ts';
import { POLL } from './support/poll.ts';
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
    await waitSubscribed(redis);

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
    await waitSubscribed(redis);
    await rig.carrier('b').setMode({ mode: 'reset' });

    expect((await one!.gateway.probeNow('b')).ok).toBe(false);
    expect(await pathState(one!, 'b')).toBe('open');
    // One report is below the quorum: give a publish time to arrive, and see that none did.
    await new Promise((r) => setTimeout(r, 300));
    expect(await pathState(three!, 'b')).toBe('closed');

    expect((await two!.gateway.probeNow('b')).ok).toBe(false);
    await expect.poll(() => pathState(three!, 'b'), POLL).toBe('open');
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
      // Bounded in count and in time.
      const until = Date.now() + 20_000;
      for (let i = 0; i < 1_000 && !stop && Date.now() < until; i++) {
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
    const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

    await settle();
    await redis.kill();
    // Transitions while Redis is gone: the payments' own path breaks, and the writes have nowhere to go.
    await rig.carrier('a').setMode({ mode: 'reset' });
    await settle(500);
    await redis.restart();
    await settle();
    redis.pause();
    // While Redis hangs, path a recovers: the probe's trial-lock request has to time out first.
    await rig.carrier('a').setMode({ mode: 'up' });
    await settle(1_000);
    redis.resume();
    await settle();
    stop = true;
    await Promise.all(streams);

    expect(answers.length).toBeGreaterThan(20);
    expect(answers.filter((a) => a.status !== 201)).toEqual([]);
    expect(answers.some((a) => a.path === 'b')).toBe(true); // the failover happened during the outage
    expect(rig.processor.duplicateCharges).toBe(0);

    // Resync: a cut the first instance sees while Redis is down reaches the second once Redis is back.
    await redis.kill();
    // (reset, not refuse: CarrierProxy's refuse waits for open connections before closing its listener)
    await rig.carrier('a').setMode({ mode: 'reset' });
    await expect.poll(() => pathState(first, 'a'), POLL).toBe('open');
    expect(await pathState(second, 'a')).toBe('closed');
    await redis.restart();
    await expect.poll(() => pathState(second, 'a'), POLL).toBe('open');
  });
});

const POL_READY = { timeout: 5_000, interval: 50 };

/** Waits until the gateways' subscriber connections are listening (so a publish is not missed). */
async function waitSubscribed(redis: TestRedisServer): Promise<void> {
  const { createRedisClient } = await import('../src/adapters/node/redis/client.ts');
  const client = createRedisClient(redis.url);
  try {
    await new Promise((resolve) => client.once('ready', resolve));
    await expect
      .poll(
        async () =>
          (
            (await client.call('PUBSUB', 'NUMSUB', 'paypath:{paypath:health}:transitions')) as [
              string,
              number,
            ]
          )[1],
        POL_READY,
      )
      .toBe(3);
  } finally {
    client.disconnect();
  }
}
