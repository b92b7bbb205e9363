import { afterEach, describe, expect, it, vi } from 'vitest';
import { parsePolicy as parseFixture, POLICY_LIMITS } from '../../core/policy/parse.ts';
import { WorkerPolicyAnalyser } from './worker-policy-analyser.ts';
import { MINIMAL_POLICY_YAML as MINIMAL } from '../../../test/support/policy.ts';

const RUNNING = (() => {
  const parsed = parseFixture(MINIMAL);
  if (!parsed.ok) throw new Error('fixture invalid');
  return parsed.policy;
})();

/** The costliest kind of document inside the limits: as many plain keys as maxNodes allows. */
const MANY_KEYS = Array.from(
  { length: POLICY_LIMITS.maxNodes / 2 - 10 },
  (_, i) => `k${i}: ${i}`,
).join('\n');

describe('WorkerPolicyAnalyser', () => {
  let analyser: WorkerPolicyAnalyser | undefined;
  afterEach(async () => {
    await analyser?.close();
    analyser = undefined;
    vi.useRealTimers();
  });
  /** The analyser's parse and idle timers on a clock the test moves; the worker still runs for real. */
  const fakeTimers = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

  it('parses in another thread: this event loop keeps turning while a long document is parsed', async () => {
    analyser = new WorkerPolicyAnalyser();
    expect(await analyser.analyse(MINIMAL, RUNNING)).toMatchObject({
      ok: true,
      policy: { paths: [{ id: 'a' }] },
      hash: expect.stringMatching(/^[0-9a-f]{16}$/),
    }); // worker started
    let turns = 0;
    let turning = true;
    const turn = () => {
      turns++;
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    const result = await analyser.analyse(MANY_KEYS, RUNNING);
    turning = false;
    expect(result.ok).toBe(false);
    // Parsed on this thread, the document would take the loop for its whole parse: no turn at all.
    expect(turns).toBeGreaterThan(1);
  });

  it('answers documents in order, one at a time, and passes limits through', async () => {
    analyser = new WorkerPolicyAnalyser();
    const answers = await Promise.all([
      analyser.analyse(MINIMAL, RUNNING),
      analyser.analyse('['.repeat(100), RUNNING),
      analyser.analyse(`${MINIMAL}version: 1\n`, RUNNING),
    ]);
    expect(answers[0]).toMatchObject({ ok: true, diff: { changed: false, changes: [] } });
    expect(answers[1]).toMatchObject({
      ok: false,
      limit: { name: 'depth', max: POLICY_LIMITS.maxDepth },
    });
    expect(answers[2]).toMatchObject({
      ok: false,
      issues: [{ message: 'YAML error: duplicate key "version"' }],
    });
  });

  it('gives up a parse past its time limit with limit "time", and replaces the worker', async () => {
    fakeTimers();
    analyser = new WorkerPolicyAnalyser({ timeoutMs: 1_000 });
    const slow = analyser.analyse(MANY_KEYS, RUNNING);
    // Moved in the same turn: the worker's answer cannot have been read yet.
    vi.advanceTimersByTime(999);
    expect(analyser.started).toBe(true);
    vi.advanceTimersByTime(1);
    expect(analyser.started).toBe(false);
    expect(await slow).toEqual({
      ok: false,
      issues: [{ path: '', message: 'parsing the policy took longer than 1000 ms' }],
      limit: { name: 'time', max: 1_000 },
    });
  });

  it('stops its worker when idle and starts one again for the next document', async () => {
    fakeTimers();
    analyser = new WorkerPolicyAnalyser({ idleMs: 20 });
    expect(analyser.started).toBe(false);
    expect((await analyser.analyse(MINIMAL, RUNNING)).ok).toBe(true);
    expect(analyser.started).toBe(true);
    vi.advanceTimersByTime(19);
    expect(analyser.started).toBe(true);
    vi.advanceTimersByTime(1);
    expect(analyser.started).toBe(false);
    expect((await analyser.analyse(MINIMAL, RUNNING)).ok).toBe(true);
    expect(analyser.started).toBe(true);
  });
});
