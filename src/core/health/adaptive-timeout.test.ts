import { describe, expect, it } from 'vitest';
import { PolicySchema } from '../policy/schema.ts';
import { adaptiveAttemptTimeoutMs, silentPathRule } from './adaptive-timeout.ts';
import { LatencyWindow } from './latency-window.ts';

const policy = PolicySchema.parse({
  version: 1,
  paths: [{ id: 'a', upstream: 'http://127.0.0.1:1' }],
  routes: [
    {
      id: 'keyed',
      match: { method: 'POST', path: '/k' },
      paths: ['a'],
      idempotency: { upstreamHonors: true },
    },
    { id: 'unkeyed', match: { method: 'POST', path: '/u' }, paths: ['a'] },
    {
      id: 'fixed',
      match: { method: 'POST', path: '/f' },
      paths: ['a'],
      attemptTimeoutMs: 777,
      idempotency: { upstreamHonors: true },
    },
  ],
});
const [keyed, unkeyed, fixed] = policy.routes as [
  (typeof policy.routes)[0],
  (typeof policy.routes)[0],
  (typeof policy.routes)[0],
];
const config = policy.adaptiveTimeout;

function window(samples: number, ms: number): LatencyWindow {
  const w = new LatencyWindow();
  for (let i = 0; i < samples; i++) w.record(ms);
  return w;
}

describe('adaptiveAttemptTimeoutMs', () => {
  it('stays at the ceiling until enough samples exist', () => {
    expect(adaptiveAttemptTimeoutMs(keyed, window(config.minSamples - 1, 5), config)).toBe(
      config.ceilingMs,
    );
  });

  it('follows the percentile times the factor, floored', () => {
    expect(adaptiveAttemptTimeoutMs(keyed, window(100, 5), config)).toBe(config.floorMs);
    expect(adaptiveAttemptTimeoutMs(keyed, window(100, 80), config)).toBe(80 * config.factor);
    expect(adaptiveAttemptTimeoutMs(keyed, window(100, 5_000), config)).toBe(config.ceilingMs);
  });

  it('never shortens a route whose processor cannot de-duplicate a retry, and keeps a fixed timeout', () => {
    expect(adaptiveAttemptTimeoutMs(unkeyed, window(100, 5), config)).toBe(config.ceilingMs);
    expect(adaptiveAttemptTimeoutMs(fixed, window(100, 5), config)).toBe(777);
  });
});

describe('silentPathRule', () => {
  it('gives up after afterMs, or the median times the factor when that is longer', () => {
    expect(silentPathRule(keyed, window(100, 2), config)).toEqual({ afterMs: 20, waiting: 2 });
    expect(silentPathRule(keyed, window(100, 10), config)).toEqual({
      afterMs: 10 * config.factor,
      waiting: 2,
    });
  });

  it('applies only where the timeout adapts, and can be turned off', () => {
    expect(silentPathRule(keyed, window(config.minSamples - 1, 2), config)).toBeUndefined();
    expect(silentPathRule(unkeyed, window(100, 2), config)).toBeUndefined();
    expect(silentPathRule(fixed, window(100, 2), config)).toBeUndefined();
    expect(
      silentPathRule(keyed, window(100, 2), {
        ...config,
        silentPath: { ...config.silentPath, enabled: false },
      }),
    ).toBeUndefined();
  });
});
