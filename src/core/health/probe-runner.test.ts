import { describe, expect, it } from 'vitest';
import { RecordingBreaker } from '../../../test/support/recording-breaker.ts';
import { TimestampBreaker } from '../breaker/timestamp-breaker.ts';
import { AttemptError } from '../attempt-error.ts';
import { Gateway } from '../gateway.ts';
import { PolicySchema, type PathConfig } from '../policy/schema.ts';
import type { PathTransport, UpstreamResponse } from '../transport.ts';
import { ProbeRunner } from './probe-runner.ts';
import type { ProbeTarget } from './probe.ts';

const GRADES = { m: 'mirror', h: 'hot', w: 'warm', c: 'cold' } as const;

const policy = (probe: Record<string, unknown> = {}) =>
  PolicySchema.parse({
    version: 1,
    paths: Object.entries(GRADES).map(([id, grade]) => ({
      id,
      upstream: `http://127.0.0.1:1/${id}`,
      grade,
    })),
    probe: { intervalMs: 1_000, warmFactor: 5, timeoutMs: 200, ...probe },
    breaker: { resetTimeoutMs: 60_000 },
    routes: [{ id: 'r', match: { method: 'POST', path: '/' }, paths: Object.keys(GRADES) }],
  });

/** A transport whose probes stay pending until the test settles them. */
class HeldTransport implements PathTransport {
  sent = 0;
  readonly #pending: ((outcome: Error | null) => void)[] = [];

  send(): Promise<UpstreamResponse> {
    this.sent++;
    return new Promise((resolve, reject) =>
      this.#pending.push((error) =>
        error ? reject(error) : resolve({ status: 200, headers: new Headers(), body: null }),
      ),
    );
  }

  settle(error: Error | null = null): void {
    for (const done of this.#pending.splice(0)) done(error);
  }

  close = async () => {};
}

function rig(probe: Record<string, unknown> = {}) {
  let now = 1_000_000;
  const p = policy(probe);
  const paths = p.paths.map((config: PathConfig) => ({
    config,
    breaker: new RecordingBreaker(),
    transport: new HeldTransport(),
  }));
  const results: string[] = [];
  const started: Promise<unknown>[] = [];
  const runner = new ProbeRunner({
    probe: p.probe,
    paths,
    onResult: (path: ProbeTarget) => results.push(path.config.id),
    onStart: (probe) => started.push(probe),
    now: () => now,
  });
  const byId = (id: string) => paths.find((x) => x.config.id === id)!;
  /** Settles every probe in flight; resolves after their results were applied. */
  const settleAll = async () => {
    for (const path of paths) path.transport.settle();
    await Promise.all(started); // each resolves after onResult had the probe's result
  };
  return { runner, byId, results, started, settleAll, advance: (ms: number) => (now += ms) };
}

const ids = (targets: ProbeTarget[]) => targets.map((t) => t.config.id).sort();

describe('ProbeRunner (no timers)', () => {
  it('finds every scheduled path due at first, then each at its grade interval; cold never', async () => {
    const { runner, settleAll, advance } = rig();
    expect(ids(runner.due())).toEqual(['h', 'm', 'w']);
    await Promise.all([runner.runDue(), settleAll()]);
    expect(runner.due()).toEqual([]);
    advance(999);
    expect(runner.due()).toEqual([]);
    advance(1);
    expect(ids(runner.due())).toEqual(['h', 'm']);
    advance(4_000); // 5 s since the first round: warm's interval × warmFactor
    expect(ids(runner.due())).toEqual(['h', 'm', 'w']);
  });

  it('probes a path that is not closed at the base interval, whatever its grade (cold excepted)', async () => {
    const { runner, byId, settleAll, advance } = rig();
    await Promise.all([runner.runDue(), settleAll()]);
    byId('w').breaker.trip();
    byId('c').breaker.trip();
    advance(1_000);
    expect(ids(runner.due())).toEqual(['h', 'm', 'w']);
  });

  it('never runs the same path twice at once: a due round skips it, probeNow joins it', async () => {
    const { runner, byId, settleAll, advance, results, started } = rig();
    const first = runner.runDue();
    advance(1_000); // mirror and hot are due again by time, but still in flight
    expect(runner.due()).toEqual([]);
    const joined = runner.run(byId('m'));
    expect(byId('m').transport.sent).toBe(1);
    expect(started.length).toBe(3); // each probe is handed to onStart once (a Worker keeps it alive with waitUntil)
    await settleAll();
    expect((await first).length).toBe(3);
    expect((await joined).ok).toBe(true);
    expect(results.filter((id) => id === 'm')).toEqual(['m']);
  });

  it('stops counting a probe that never settles (its request was cancelled) as in flight', () => {
    const { runner, byId, advance } = rig({ timeoutMs: 200 });
    void runner.run(byId('m'));
    advance(1_400); // timeoutMs × 2 + 1 s
    expect(runner.inFlight('m')).toBe(true);
    advance(1);
    expect(runner.inFlight('m')).toBe(false);
    void runner.run(byId('m'));
    expect(byId('m').transport.sent).toBe(2);
  });

  it('runs a Cron round on every scheduled path, due or not, and nothing when probes are disabled', async () => {
    const { runner, byId, settleAll } = rig();
    await Promise.all([runner.runDue(), settleAll()]);
    const round = runner.runRound();
    expect([byId('m'), byId('h'), byId('w'), byId('c')].map((p) => p.transport.sent)).toEqual([
      2, 2, 2, 0,
    ]);
    await settleAll();
    expect((await round).map((r) => r.ok)).toEqual([true, true, true]);

    const off = rig({ enabled: false });
    expect(off.runner.due()).toEqual([]);
    expect(await off.runner.runRound()).toEqual([]);
    expect(off.byId('m').transport.sent).toBe(0);
  });
});

describe('Gateway probes without timers (Workers)', () => {
  it('a due probe that fails opens the path; a later passing one closes it', async () => {
    let down = false;
    let now = 1_000_000;
    const p = policy({ intervalMs: 300, timeoutMs: 200 });
    const gateway = new Gateway({
      policy: p,
      policyHash: 'h',
      now: () => now,
      transportFactory: (path): PathTransport => ({
        send: async () => {
          if (down && path.id === 'm')
            throw new AttemptError('connect_refused', 'not_sent', 'refused');
          return { status: 200, headers: new Headers(), body: null };
        },
        close: async () => {},
      }),
      breakerFactory: (config) => new TimestampBreaker(config, { now: () => now }),
    });
    const m = () => gateway.status().paths.find((x) => x.id === 'm')!;
    expect(m().lastProbe).toBeNull();
    await gateway.probeDue();
    expect(m()).toMatchObject({ state: 'closed', lastProbe: { error: null } });

    down = true;
    now += 299;
    expect(await gateway.probeDue()).toEqual([]); // not due yet: 300 ms have not passed
    now += 1;
    await gateway.probeDue();
    expect(m()).toMatchObject({
      state: 'open',
      lastProbe: { error: 'connect_refused' },
      requests: 0,
    });
    expect(m().transitions.at(-1)?.reason).toBe('probe: connect_refused');

    down = false;
    now += 300;
    await gateway.probeDue();
    // resetTimeoutMs is 60 s: the passing probe, not the clock, closed it.
    expect(m()).toMatchObject({ state: 'closed', lastProbe: { error: null } });
    expect(m().transitions.at(-1)?.reason).toBe('probe-succeeded');
    // Cold paths were never probed on the way.
    expect(gateway.status().paths.find((x) => x.id === 'c')!.lastProbe).toBeNull();
    await gateway.close();
  });

  it('a passing probe tops up the warm connections of quiet mirror and hot paths only; a failing one does not', async () => {
    let down = false;
    let now = 1_000_000;
    const warmed: string[] = [];
    const gateway = new Gateway({
      policy: policy({ intervalMs: 300, timeoutMs: 200 }),
      policyHash: 'h',
      now: () => now,
      transportFactory: (path): PathTransport => ({
        send: async () => {
          if (down) throw new AttemptError('connect_refused', 'not_sent', 'refused');
          return { status: 200, headers: new Headers(), body: null };
        },
        warm: async (count) => void warmed.push(`${path.id}:${count}`),
        close: async () => {},
      }),
      breakerFactory: (config) => new TimestampBreaker(config, { now: () => now }),
    });
    await gateway.probeDue();
    expect(warmed.sort()).toEqual(['h:4', 'm:4']); // warm is probed here too, but keeps no spare connections
    // A path that carried a payment since its last probe keeps its pool warm by itself.
    warmed.length = 0;
    const route = gateway.policy.routes[0]!;
    const sent = await gateway.forward(
      { ...route, paths: ['m'] },
      { method: 'POST', target: '/', headers: new Headers(), body: null },
      'k',
    );
    expect(sent.pathId).toBe('m');
    now += 300;
    await gateway.probeDue();
    expect(warmed).toEqual(['h:4']);
    warmed.length = 0;
    down = true;
    now += 300;
    await gateway.probeDue();
    expect(warmed).toEqual([]);
    await gateway.close();
  });
});
