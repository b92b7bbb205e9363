import { describe, expect, it } from 'vitest';
import { RecordingBreaker } from '../../../test/support/recording-breaker.ts';
import { LatencyWindow } from '../health/latency-window.ts';
import { CandidateCursor } from './candidates.ts';
import type { PathRuntime } from '../paths/path-runtime.ts';

function path(id: string, { open = false, degraded = false } = {}): PathRuntime {
  const breaker = new RecordingBreaker();
  if (open) breaker.trip();
  return {
    config: { id } as PathRuntime['config'],
    breaker,
    transport: {
      send: () => Promise.reject(new Error('not sent in these tests')),
      close: async () => {},
    },
    latency: new LatencyWindow(),
    recordAttempt() {},
    degraded,
  };
}

const ids = (cursor: CandidateCursor) => {
  const seen: string[] = [];
  for (let p = cursor.next(); p; p = cursor.next()) seen.push(p.config.id);
  return seen;
};

describe('CandidateCursor', () => {
  it('goes through the candidates in order, skipping those whose breaker would not admit a request', () => {
    expect(ids(new CandidateCursor([path('a'), path('b', { open: true }), path('c')]))).toEqual([
      'a',
      'c',
    ]);
  });

  it('puts degraded paths last while a sound one is available, and keeps the order when none is', () => {
    expect(ids(new CandidateCursor([path('a', { degraded: true }), path('b'), path('c')]))).toEqual(
      ['b', 'c', 'a'],
    );
    expect(
      ids(new CandidateCursor([path('a', { degraded: true }), path('b', { open: true })])),
    ).toEqual(['a']);
  });

  it('asks the same path again, and knows whether a later path is usable', () => {
    const cursor = new CandidateCursor([path('a'), path('b'), path('c', { open: true })]);
    expect(cursor.next()?.config.id).toBe('a');
    expect(cursor.laterUsable()).toBe(true);
    cursor.again();
    expect(cursor.next()?.config.id).toBe('a');
    expect(cursor.next()?.config.id).toBe('b');
    expect(cursor.laterUsable()).toBe(false);
  });
});
