import { describe, expect, it } from 'vitest';
import { MemoryAuditLog } from '../../../core/admin/audit.ts';
import { MemoryRateLimiter } from '../../../core/rate-limit/rate-limiter.ts';
import {
  FAILED_AUTH_PATH_CHARS,
  FAILED_AUTH_TOTAL_FACTOR,
  FailedAuthAudit,
} from './failed-auth-audit.ts';

describe('FailedAuthAudit', () => {
  const setup = () => {
    let now = 0;
    const audit = new MemoryAuditLog(10_000);
    const failures = new FailedAuthAudit({
      audit,
      limiter: new MemoryRateLimiter({ now: () => now }),
      limit: () => ({ ratePerSecond: 1, burst: 3 }),
    });
    const fail = (client: string | undefined, path = '/admin/policy') =>
      failures.record({ reason: 'invalid_token', method: 'GET', path, client });
    return { audit, fail, advance: (ms: number) => (now += ms) };
  };

  it('records the client address and at most FAILED_AUTH_PATH_CHARS of the path, with its full length', async () => {
    const { audit, fail } = setup();
    await fail('192.0.2.7', `/admin/${'x'.repeat(15_000)}`);
    expect(audit.records).toHaveLength(1);
    expect(audit.records[0]).toMatchObject({
      actor: 'anonymous',
      action: 'auth.failed',
      outcome: 'denied',
      details: { reason: 'invalid_token', client: '192.0.2.7', method: 'GET', pathLength: 15_007 },
    });
    expect(audit.records[0]!.details!.path).toHaveLength(FAILED_AUTH_PATH_CHARS);
  });

  it('passes a burst per client address, counts the rest, and reports the count in the next record written', async () => {
    const { audit, fail, advance } = setup();
    const written = [];
    for (let i = 0; i < 10; i++) written.push(await fail('192.0.2.7'));
    expect(written).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(await fail('192.0.2.8')).toBe(true); // another address has its own bucket
    expect(audit.records.at(-1)!.details).toMatchObject({ client: '192.0.2.8', suppressed: 7 });
    advance(1_000);
    expect(await fail('192.0.2.7')).toBe(true);
    expect(audit.records.at(-1)!.details!.suppressed).toBeUndefined();
  });

  it('bounds all addresses together to FAILED_AUTH_TOTAL_FACTOR times one address', async () => {
    const { audit, fail } = setup();
    for (let i = 0; i < 100; i++) await fail(`198.51.100.${i}`);
    expect(audit.records).toHaveLength(3 * FAILED_AUTH_TOTAL_FACTOR);
  });

  it('masks a card number before cutting the path, so no part of it is kept', async () => {
    const { audit, fail } = setup();
    await fail('192.0.2.7', `/admin/${'x'.repeat(181)}4111111111111111/more`);
    expect(audit.records[0]!.details!.path).toHaveLength(FAILED_AUTH_PATH_CHARS);
    expect(audit.records[0]!.details!.path).not.toMatch(/[0-9]{7}/);
  });
});
