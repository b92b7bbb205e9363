/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_LIMITS } from '../src/core/policy/parse.ts';
import { OpsStack, TOKENS } from './support/ops-harness.ts';

/** A payment terminal's own deadline: the payments route's deadlineMs in the stack's policy. */
const TERMINAL_DEADLINE_MS = 5_000;

const plainKeys = (count: number) =>
  Array.from({ length: count }, (_, i) => `k${i}: ${i}`).join('\n');

describe('hostile admin input never holds up payments', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start();
  });
  afterAll(async () => stack?.stop());

  it('payments keep succeeding while a viewer posts a 60 000-key policy, the largest inside the limits, and deep ones', async () => {
    const hostile = [
      {
        name: '60 000 plain keys (0.8 MB)',
        body: plainKeys(60_000),
        status: 413,
        code: 'policy_too_complex',
        limit: 'nodes',
      },
      {
        name: 'as many keys as the limits allow',
        body: plainKeys(POLICY_LIMITS.maxNodes / 2 - 10),
        status: 400,
        code: 'policy_invalid',
      },
      {
        name: 'nested flow lists',
        body: `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
        status: 413,
        code: 'policy_too_complex',
        limit: 'depth',
      },
      {
        name: 'nested complex keys',
        body: `${'? '.repeat(50_000)}x`,
        status: 413,
        code: 'policy_too_complex',
        limit: 'depth',
      },
      {
        name: '60 000 plain keys again',
        body: plainKeys(60_000),
        status: 413,
        code: 'policy_too_complex',
        limit: 'nodes',
      },
    ];
    const answers: { name: string; status: number; code: string; limit?: string }[] = [];
    let hostileDone = false;
    const attack = (async () => {
      for (const doc of hostile) {
        const response = await stack.admin('POST', '/admin/policy/validate', {
          token: TOKENS.viewer,
          body: doc.body,
        });
        const body = (await response.json()) as any;
        answers.push({
          name: doc.name,
          status: response.status,
          code: body.error?.code,
          ...(body.error?.limit ? { limit: body.error.limit } : {}),
        });
      }
      hostileDone = true;
    })();

    // Payments two at a time for as long as the attack lasts (and a few after it), bounded in count.
    const outcomes: string[] = [];
    let sent = 0;
    let afterAttack = 0;
    const terminal = async () => {
      while (sent < 400 && afterAttack < 10) {
        const reference = `hostile-${sent++}`;
        if (hostileDone) afterAttack++;
        try {
          const response = await fetch(`${stack.gateway.url}/v1/payments`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `key-${reference}` },
            body: JSON.stringify({ amount: 4500, currency: 'KRW', reference }),
            signal: AbortSignal.timeout(TERMINAL_DEADLINE_MS),
          });
          await response.arrayBuffer();
          outcomes.push(String(response.status));
        } catch (error) {
          outcomes.push((error as Error).name); // TimeoutError: the terminal gave up on the payment
        }
      }
    };
    await Promise.all([attack, terminal(), terminal()]);

    expect(answers).toEqual(
      hostile.map((doc) => ({
        name: doc.name,
        status: doc.status,
        code: doc.code,
        ...(doc.limit ? { limit: doc.limit } : {}),
      })),
    );
    expect(outcomes.length).toBeGreaterThan(hostile.length);
    expect(outcomes.filter((outcome) => outcome !== '201')).toEqual([]);
  });

  it('a failed authentication with a 15 KB path is recorded cut to 200 characters, with the client address', async () => {
    const response = await stack.admin('GET', `/admin/${'x'.repeat(15_000)}`, {
      token: 'not-the-token-at-all-xx',
    });
    expect(response.status).toBe(401);
    await response.arrayBuffer();
    const records = (await readFile(stack.auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const failed = records.filter((r) => r.action === 'auth.failed').at(-1);
    expect(failed.details).toMatchObject({
      reason: 'invalid_token',
      method: 'GET',
      pathLength: 15_007,
      client: expect.stringMatching(/127\.0\.0\.1$/),
    });
    expect(failed.details.path).toHaveLength(200);
  });
});

describe('admin API rate limit per token', () => {
  let stack: OpsStack;
  beforeAll(async () => {
    stack = await OpsStack.start({
      edit: (policy) =>
        (policy.admin = { ...policy.admin, rateLimit: { ratePerSecond: 0.01, burst: 3 } }),
    });
  });
  afterAll(async () => stack?.stop());

  it('answers 429 admin_rate_limited with Retry-After past the bucket, for that token only', async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const response = await stack.admin('GET', '/admin/policy/history', { token: TOKENS.viewer });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
      else await response.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await limited!.json()) as any;
    expect(body.error).toMatchObject({
      code: 'admin_rate_limited',
      retryAfterSeconds: expect.any(Number),
    });
    expect(body.error.message).toContain('"bob"');

    const other = await stack.admin('GET', '/admin/policy/history', { token: TOKENS.operator });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });
});
