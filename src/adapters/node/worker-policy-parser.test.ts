import { afterEach, describe, expect, it } from 'vitest';
import { POLICY_LIMITS } from '../../core/policy/parse.ts';
import { WorkerPolicyParser } from './worker-policy-parser.ts';

const MINIMAL = `version: 1
paths:
  - id: a
    upstream: https://pay.example
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [a]
`;

/** The costliest kind of document inside the limits: as many plain keys as maxNodes allows. */
const MANY_KEYS = Array.from({ length: POLICY_LIMITS.maxNodes / 2 - 10 }, (_, i) => `k${i}: ${i}`).join('\n');

describe('WorkerPolicyParser', () => {
  let parser: WorkerPolicyParser | undefined;
  afterEach(async () => {
    await parser?.close();
    parser = undefined;
  });

  it('parses in another thread: this event loop keeps turning while a long document is parsed', async () => {
    parser = new WorkerPolicyParser();
    expect(await parser.parse(MINIMAL)).toMatchObject({ ok: true, policy: { paths: [{ id: 'a' }] } }); // worker started
    let turns = 0;
    let turning = true;
    const turn = () => {
      turns++;
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    const result = await parser.parse(MANY_KEYS);
    turning = false;
    expect(result.ok).toBe(false);
    // Parsed on this thread, the document would take the loop for its whole parse: no turn at all.
    expect(turns).toBeGreaterThan(1);
  });

  it('answers documents in order, one at a time, and passes limits through', async () => {
    parser = new WorkerPolicyParser();
    const answers = await Promise.all([parser.parse(MINIMAL), parser.parse('['.repeat(100)), parser.parse(`${MINIMAL}version: 1\n`)]);
    expect(answers[0]!.ok).toBe(true);
    expect(answers[1]).toMatchObject({ ok: false, limit: { name: 'depth', max: POLICY_LIMITS.maxDepth } });
    expect(answers[2]).toMatchObject({ ok: false, issues: [{ message: 'YAML error: duplicate key "version"' }] });
  });

  it('gives up a parse past its time limit with limit "time"', async () => {
    parser = new WorkerPolicyParser({ timeoutMs: 1 });
    const slow = await parser.parse(MANY_KEYS);
    expect(slow).toEqual({ ok: false, issues: [{ path: '', message: 'parsing the policy took longer than 1 ms' }], limit: { name: 'time', max: 1 } });
  });

  it('stops its worker when idle and starts one again for the next document', async () => {
    parser = new WorkerPolicyParser({ idleMs: 20 });
    expect(parser.started).toBe(false);
    expect((await parser.parse(MINIMAL)).ok).toBe(true);
    expect(parser.started).toBe(true);
    for (let i = 0; i < 200 && parser.started; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(parser.started).toBe(false);
    expect((await parser.parse(MINIMAL)).ok).toBe(true);
  });
});
