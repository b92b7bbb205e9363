import { afterEach, describe, expect, it } from 'vitest';
import { policyFromObject } from '../../test/support/policy.ts';
import { TimestampBreaker } from './breaker/timestamp-breaker.ts';
import { PaypathError } from './errors.ts';
import { AttemptError } from './attempt-error.ts';
import { Gateway } from './gateway.ts';
import type { RedundancyAlarmPayload } from './health/redundancy-alarm.ts';
import type { PolicyInput } from './policy/schema.ts';
import type { PathTransport, UpstreamRequest } from './transport.ts';

const WINDOW_MS = 3_000;
const PATHS = ['a', 'b', 'c'] as const;
/** `slow`: payments get no answer until the test releases them; probes are answered at once. */
type Mode = 'up' | 'blackhole' | 'http503' | 'slow';

/**
 * A gateway over three fake carriers, on an injected clock: the every-path-down rule is computed
 * from timestamps only, so moving the clock is all it takes (as on Workers, where no timer lasts).
 * Probes run when the test calls probeRound(), as a Cron round would.
 */
function setUp(
  overrides: Partial<PolicyInput> = {},
  grades: Partial<Record<(typeof PATHS)[number], 'hot' | 'warm'>> = {},
) {
  let clock = 1_700_000_000_000;
  const modes = new Map<string, Mode>(PATHS.map((id) => [id, 'up']));
  const sends = new Map<string, number>(PATHS.map((id) => [id, 0]));
  const alarms: RedundancyAlarmPayload[] = [];
  const held: (() => void)[] = [];
  const probes = new Set<Promise<unknown>>(); // probes running, including those a probe started
  const transportFactory = (path: { id: string }): PathTransport => ({
    send: (request, options) => {
      if (request.method === 'POST') sends.set(path.id, sends.get(path.id)! + 1);
      const mode = modes.get(path.id)!;
      if (mode === 'slow' && request.method === 'POST') {
        return new Promise((resolve) =>
          held.push(() =>
            resolve({ status: 201, headers: new Headers(), body: new TextEncoder().encode('{}') }),
          ),
        );
      }
      if (mode === 'blackhole') {
        // A cut carrier: nothing comes back, the attempt (or probe) times out.
        return new Promise((_resolve, reject) =>
          options.signal.addEventListener('abort', () =>
            reject(new AttemptError('response_timeout', 'sent', 'no answer')),
          ),
        );
      }
      const status = mode === 'http503' ? 503 : request.method === 'POST' ? 201 : 200;
      return Promise.resolve({
        status,
        headers: new Headers(),
        body: new TextEncoder().encode('{}'),
      });
    },
    close: async () => {},
  });
  const policy = policyFromObject({
    version: 1,
    paths: PATHS.map((id) => ({
      id,
      upstream: `http://127.0.0.1:${PATHS.indexOf(id) + 1}`,
      grade: grades[id] ?? 'hot',
    })),
    breaker: { resetTimeoutMs: 60_000 },
    probe: { timeoutMs: 20 },
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: [...PATHS],
        attemptTimeoutMs: 50,
        deadlineMs: 1_000,
        idempotency: { upstreamHonors: true },
      },
    ],
    redundancy: { alertBelow: 3, webhooks: ['http://127.0.0.1:9/alarms'], downAfterMs: WINDOW_MS },
    ...overrides,
  });
  const gateway = new Gateway({
    policy,
    policyHash: 'test',
    transportFactory,
    breakerFactory: (config) => new TimestampBreaker(config, { now: () => clock }),
    now: () => clock,
    onProbeStart: (probe) => {
      probes.add(probe);
      void probe.finally(() => probes.delete(probe));
    },
    fetch: async (_url, init) => {
      alarms.push(JSON.parse(String(init?.body)) as RedundancyAlarmPayload);
      return new Response(null, { status: 204 });
    },
  });
  const route = policy.routes[0]!;
  let nextKey = 0;
  const pay = () => {
    const request: UpstreamRequest = {
      method: 'POST',
      target: '/v1/payments',
      headers: new Headers(),
      body: new TextEncoder().encode('{}'),
    };
    return gateway.forward(route, request, `key-${nextKey++}`);
  };
  return {
    gateway,
    pay,
    modes,
    sends,
    alarms,
    release: () => held.splice(0).forEach((answer) => answer()),
    advance: (ms: number) => (clock += ms),
    /** Waits until no probe runs (one's result may start another) and every alarm was delivered. */
    settle: async () => {
      while (probes.size > 0) await Promise.all([...probes]);
      await gateway.alarmDeliveries();
    },
    totalSends: () => [...sends.values()].reduce((a, b) => a + b, 0),
  };
}

describe('every path down', () => {
  let rig: ReturnType<typeof setUp> | undefined;
  afterEach(async () => {
    await rig?.gateway.close();
    rig = undefined;
  });

  it('after the window without any answer, reports down, alarms and refuses payments without sending them', async () => {
    rig = setUp();
    const { gateway, pay, modes, alarms, advance, settle, totalSends } = rig;
    await gateway.probeRound();
    expect(gateway.status().redundancy.level).toBe('N+2');

    for (const id of PATHS) modes.set(id, 'blackhole');
    await gateway.probeRound(); // every probe times out: two paths open, the last stays closed
    expect(gateway.status().paths.filter((p) => p.state === 'closed')).toHaveLength(1);
    advance(WINDOW_MS - 1);
    await gateway.probeRound();
    expect(gateway.status().redundancy.level).toBe('N+0'); // not yet: one ms short of the window
    expect(gateway.isReady()).toBe(true);

    advance(1);
    await gateway.probeRound();
    await settle();
    const status = gateway.status();
    expect(status.redundancy).toMatchObject({ level: 'down', healthy: 0 });
    expect(status.paths.every((p) => p.silentSince !== null)).toBe(true);
    expect(status.routes[0]!.usablePaths).toEqual([]);
    expect(gateway.isReady()).toBe(false);
    expect(alarms.at(-1)).toMatchObject({ event: 'redundancy.dropped', to: 'down', healthy: 0 });
    expect(alarms.at(-1)!.cause?.reason).toMatch(/^no path answered anything/);

    const sent = totalSends();
    const refused = await pay().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(PaypathError);
    expect(refused).toMatchObject({
      code: 'no_path_available',
      status: 503,
      headers: { 'retry-after': '1' },
    });
    expect(totalSends()).toBe(sent); // nothing sent into the black hole
  });

  it('climbs back once a probe finds a path that answers, and payments go out again', async () => {
    rig = setUp();
    const { gateway, pay, modes, sends, alarms, advance, settle } = rig;
    await gateway.probeRound();
    for (const id of PATHS) modes.set(id, 'blackhole');
    await gateway.probeRound();
    advance(WINDOW_MS);
    await gateway.probeRound();
    await settle();
    expect(gateway.status().redundancy.level).toBe('down');

    modes.set('b', 'up');
    advance(1_000);
    await gateway.probeRound();
    await settle();
    const status = gateway.status();
    expect(status.redundancy.level).toBe('N+0');
    expect(status.paths.find((p) => p.id === 'b')).toMatchObject({
      state: 'closed',
      silentSince: null,
    });
    expect(gateway.isReady()).toBe(true);
    expect(alarms.at(-1)).toMatchObject({ event: 'redundancy.recovered', from: 'down', to: 'N+0' });

    const result = await pay();
    expect(result).toMatchObject({ pathId: 'b', response: { status: 201 } });
    expect(sends.get('b')).toBe(1);
  });

  it('a processor answering 5xx on every path is reachable: never down, payments still reach it', async () => {
    rig = setUp();
    const { gateway, pay, modes, advance, settle, totalSends } = rig;
    await gateway.probeRound();
    for (const id of PATHS) modes.set(id, 'http503');
    for (let i = 0; i < 4; i++) {
      advance(WINDOW_MS);
      await gateway.probeRound();
    }
    await settle();
    expect(gateway.status().redundancy.level).toBe('N+2'); // answering, if only with 5xx: every path counts
    expect(gateway.status().paths.every((p) => p.silentSince === null)).toBe(true);
    const sent = totalSends();
    const result = await pay();
    expect(result.response.status).toBe(503); // the processor's own answer, passed on
    expect(totalSends()).toBeGreaterThan(sent);
  });

  it('a slow payment on a path probed rarely is not silence: the path is probed, answers, and stays healthy', async () => {
    rig = setUp({}, { a: 'warm' }); // a warm path is probed every 5 s on its own
    const { gateway, pay, modes, release, advance, settle } = rig;
    await gateway.probeRound();
    modes.set('a', 'slow');
    const slow = pay(); // goes out on a and waits there
    advance(1_000);
    await gateway.probeDue(); // b and c are due; a is not, but it has answered nothing for a probe interval
    await settle();
    expect(gateway.status().paths.find((p) => p.id === 'a')!.lastProbe).toMatchObject({
      error: null,
    });
    advance(WINDOW_MS);
    await gateway.probeDue();
    await settle();
    const status = gateway.status();
    expect(status.paths.find((p) => p.id === 'a')!.silentSince).toBeNull();
    expect(status.redundancy.level).toBe('N+2');
    release();
    expect((await slow).pathId).toBe('a');
  });

  it.each([
    ['probes are off', { probe: { enabled: false } }],
    ['probes are on but none runs here', {}],
  ])('when %s nothing would find the way back, so the rule stays off', async (_name, overrides) => {
    rig = setUp(overrides);
    const { gateway, pay, modes, advance, totalSends } = rig;
    for (const id of PATHS) modes.set(id, 'blackhole');
    await expect(pay()).rejects.toMatchObject({ code: 'outcome_unknown' });
    advance(WINDOW_MS * 2);
    expect(gateway.isReady()).toBe(true);
    const sent = totalSends();
    await expect(pay()).rejects.toMatchObject({ code: 'outcome_unknown' }); // a payment is the only trial
    expect(totalSends()).toBeGreaterThan(sent);
  });
});
