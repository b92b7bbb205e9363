import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseDuration } from '../policy/schema-fields.ts';
import { DrillScheduler } from './drill-scheduler.ts';
import type { DrillRunner } from './drills.ts';

describe('scheduled drills', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts each policy drill every `every`, and a new policy replaces the schedule', async () => {
    vi.useFakeTimers();
    const start = vi.fn(async () => ({}));
    const scheduler = new DrillScheduler({ start } as unknown as DrillRunner);
    scheduler.configure([{ path: 'kt-fiber', every: '30m', durationMs: 5_000 }]);
    await vi.advanceTimersByTimeAsync(29 * 60_000);
    expect(start).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(start).toHaveBeenCalledWith({
      path: 'kt-fiber',
      durationMs: 5_000,
      actor: 'scheduler',
      trigger: 'schedule',
    });
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(start).toHaveBeenCalledTimes(2);

    scheduler.configure([{ path: 'skt-fiber', every: 3_600_000, durationMs: 1_000 }]);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(start).toHaveBeenCalledTimes(3);
    expect(start).toHaveBeenLastCalledWith(expect.objectContaining({ path: 'skt-fiber' }));
    scheduler.stop();
    await vi.advanceTimersByTimeAsync(3 * 60 * 60_000);
    expect(start).toHaveBeenCalledTimes(3);
  });

  it('a drill due while another runs waits for it instead of being dropped', async () => {
    vi.useFakeTimers();
    let busy = true;
    const started: string[] = [];
    const start = vi.fn(async ({ path }: { path: string }) => {
      if (path === 'skt-fiber' && busy)
        throw Object.assign(new Error('a drill is running'), { code: 'drill_running' });
      started.push(path);
      return {};
    });
    const scheduler = new DrillScheduler({ start } as unknown as DrillRunner);
    scheduler.configure([
      { path: 'kt-fiber', every: '1h', durationMs: 30_000 },
      { path: 'skt-fiber', every: '1h', durationMs: 30_000 },
    ]);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(started).toEqual(['kt-fiber']);
    busy = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(started).toEqual(['kt-fiber', 'skt-fiber']);
    scheduler.stop();
  });

  it('starts a policy drill of several paths with all of them', async () => {
    vi.useFakeTimers();
    const start = vi.fn(async () => ({}));
    const scheduler = new DrillScheduler({ start } as unknown as DrillRunner);
    scheduler.configure([{ paths: ['kt-fiber', 'skt-fiber'], every: '6h', durationMs: 30_000 }]);
    await vi.advanceTimersByTimeAsync(6 * 60 * 60_000);
    expect(start).toHaveBeenCalledWith({
      paths: ['kt-fiber', 'skt-fiber'],
      durationMs: 30_000,
      actor: 'scheduler',
      trigger: 'schedule',
    });
    scheduler.stop();
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('6h')).toBe(21_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration(1234)).toBe(1234);
    expect(parseDuration('soon')).toBeNaN();
  });
});
