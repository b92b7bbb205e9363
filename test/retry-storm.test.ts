import { afterEach, describe, expect, it } from 'vitest';
import { WARM_CONNECTIONS } from '../src/core/paths/path-set.ts';
import { until } from './support/poll.ts';
import { CARRIERS, Rig } from './support/rig.ts';

// While every path is down, a stream of payments must not become a storm of connection attempts
// against the carriers: each path takes at most a few failures before its breaker opens, and an
// open path is not tried at all. Counted at the carriers (connections accepted) and the processor.

const CONCURRENCY = 4;
const CONSECUTIVE_FAILURES = 5;

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('every path down: a bounded number of tries', () => {
  it('each carrier sees at most consecutiveFailures + concurrency - 1 connections, then none; the processor none', async () => {
    // No half-open trial within the test: the bound is about the failures that open each breaker.
    rig = await Rig.start({
      breaker: {
        windowMs: 10_000,
        errorThresholdPercentage: 50,
        volumeThreshold: 5,
        consecutiveFailures: CONSECUTIVE_FAILURES,
        resetTimeoutMs: 60_000,
      },
    });
    const r = rig;
    // The connections the gateway opens ahead of traffic may still be landing after it listens:
    // counted from here, they are not taken for tries.
    await until(
      "each carrier to accept the gateway's warm connections",
      () => CARRIERS.every((c) => r.carrier(c.id).accepted >= WARM_CONNECTIONS),
      { timeoutMs: 5_000 },
    );
    for (const c of CARRIERS) await r.cut(c.id, { mode: 'reset' });
    const acceptedBefore = CARRIERS.map((c) => r.carrier(c.id).accepted);
    const accepted = () => CARRIERS.map((c, i) => r.carrier(c.id).accepted - acceptedBefore[i]!);

    const during = await r.stream('storm', 60, { concurrency: CONCURRENCY });
    // Each answer says nothing was sent, or (a reset that came after the write) that the outcome is unknown.
    for (const p of during) {
      const code = (p.body.error as { code: string }).code;
      expect({ status: p.status, code }, p.reference).toEqual(
        code === 'outcome_unknown'
          ? { status: 502, code }
          : { status: 503, code: 'no_path_available' },
      );
    }
    const opened = accepted();
    for (const count of opened) {
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count).toBeLessThanOrEqual(CONSECUTIVE_FAILURES + CONCURRENCY - 1);
    }

    // Every breaker is open now: more payments are refused unsent, without a single connection.
    const status = (await (await fetch(`${r.url}/status`)).json()) as {
      paths: { id: string; state: string }[];
    };
    expect(status.paths.map((p) => p.state)).toEqual(['open', 'open', 'open']);
    const after = await r.stream('storm-after', 60, { concurrency: CONCURRENCY });
    expect(
      after.filter(
        (p) => p.status !== 503 || (p.body.error as { code: string }).code !== 'no_path_available',
      ),
    ).toEqual([]);
    expect(accepted()).toEqual(opened);
    expect(r.processor.requests.size).toBe(0);
    expect(r.processor.charges).toEqual([]);
  });
});
