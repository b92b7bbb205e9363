import { describe, expect, it } from 'vitest';
import { DegradationSchema } from '../policy/health-schema.ts';
import { PathQuality } from './path-quality.ts';

function setup(overrides: Record<string, unknown> = {}) {
  let clock = 1_000_000;
  const config = DegradationSchema.parse({
    windowMs: 3_000,
    minSamples: 10,
    badPercent: 20,
    slowMs: 150,
    recoverSamples: 3,
    ...overrides,
  });
  const quality = new PathQuality(config, () => clock);
  const advance = (ms: number) => {
    clock += ms;
  };
  /** `count` exchanges 10 ms apart, every `badEvery`-th of them bad (0: none). */
  const exchanges = (count: number, badEvery: number) => {
    for (let i = 1; i <= count; i++) {
      advance(10);
      quality.record(badEvery > 0 && i % badEvery === 0);
    }
  };
  return { quality, advance, exchanges };
}

describe('PathQuality: the degraded mark of a lossy path', () => {
  it('marks a path degraded once a fifth of its recent exchanges were slow or failed, and shows since when', () => {
    const { quality, exchanges } = setup();
    exchanges(30, 10); // 10 % bad: the odd slow answer of a busy box
    expect(quality.degraded).toBe(false);
    exchanges(40, 3); // a lossy carrier: a third of the exchanges hit a retransmission
    expect(quality.degraded).toBe(true);
    expect(quality.degradedSince).toBeDefined();
    expect(quality.badPercent).toBeGreaterThanOrEqual(20);
  });

  it('needs minSamples exchanges before judging', () => {
    const { quality, exchanges } = setup();
    exchanges(9, 1); // every one bad, but only 9
    expect(quality.degraded).toBe(false);
    exchanges(1, 1);
    expect(quality.degraded).toBe(true);
  });

  it('stays degraded while its probes still see loss, and recovers after a window of clean ones', () => {
    const { quality, exchanges, advance } = setup();
    exchanges(20, 2);
    expect(quality.degraded).toBe(true);
    // Payments went elsewhere: one probe a second, every other one slow.
    for (let i = 0; i < 10; i++) {
      advance(1_000);
      quality.record(i % 2 === 0);
    }
    expect(quality.degraded).toBe(true);
    // The carrier is mended: probes are clean; the bad ones leave the window.
    for (let i = 0; i < 2; i++) {
      advance(1_000);
      quality.record(false);
    }
    expect(quality.degraded).toBe(true); // a bad probe is still within the last 3 s
    for (let i = 0; i < 3; i++) {
      advance(1_000);
      quality.record(false);
    }
    expect(quality.degraded).toBe(false);
    expect(quality.degradedSince).toBeUndefined();
  });

  it('without probes, a degraded path is tried again once it saw nothing for a whole window', () => {
    const { quality, exchanges, advance } = setup();
    exchanges(20, 1);
    expect(quality.degraded).toBe(true);
    advance(2_000);
    expect(quality.degraded).toBe(true);
    advance(1_500);
    expect(quality.degraded).toBe(false);
  });

  it("counts an answer as slow above slowMs and above 4 times the path's usual latency", () => {
    const { quality } = setup();
    expect(quality.isSlow(140, 5)).toBe(false);
    expect(quality.isSlow(210, 5)).toBe(true); // a lost segment resent after 200 ms
    expect(quality.isSlow(210, 80)).toBe(false); // a long link is not slow for being long
    expect(quality.isSlow(330, 80)).toBe(true);
  });

  it('does nothing when disabled', () => {
    const { quality, exchanges } = setup({ enabled: false });
    exchanges(50, 1);
    expect(quality.degraded).toBe(false);
  });
});
