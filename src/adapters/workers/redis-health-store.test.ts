import { describe, expect, it } from 'vitest';
import type { PathHealthEvent } from '../../core/health/health-store.ts';
import { WorkerRedisHealthStore } from './redis-health-store.ts';
import { within } from '../../../test/support/poll.ts';
import type { RespClient, RespValue } from './resp-client.ts';

const event = (pathId: string): PathHealthEvent => ({
  pathId,
  state: 'open',
  reason: 'probe: connection_lost',
  at: Date.now(),
  instanceId: 'worker-1',
});

describe('WorkerRedisHealthStore.sync', () => {
  it('writes a transition published while a sync is past its writes (a background probe finishing late)', async () => {
    const written: string[] = [];
    let releaseRead!: () => void;
    const readHeld = new Promise<void>((resolve) => (releaseRead = resolve));
    let reading!: () => void;
    const readStarted = new Promise<void>((resolve) => (reading = resolve));
    const client = {
      async command(name: string, ...args: (string | number)[]): Promise<RespValue> {
        if (name === 'EVAL') written.push(String(args[4])); // script, key count, 2 keys, then the path id
        if (name === 'HGETALL') {
          reading();
          await readHeld;
        }
        return name === 'HGETALL' ? [] : -1;
      },
      async close() {},
    } as unknown as RespClient;
    const store = new WorkerRedisHealthStore({ connect: async () => client });
    store.join({
      instanceId: 'worker-1',
      quorum: 1,
      reportTtlMs: 10_000,
      localStates: () => [],
      apply: () => {},
    });

    store.publish(event('edge-a'));
    const first = store.sync(); // writes edge-a, then waits on the read
    await within('the first sync reaching its read', readStarted, 5_000);
    expect(written).toEqual(['edge-a']);
    store.publish(event('edge-b'));
    const second = store.sync();
    releaseRead();
    await Promise.all([first, second]);
    expect(written).toEqual(['edge-a', 'edge-b']);
  });
});
