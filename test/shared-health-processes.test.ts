import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DetectionRig } from './support/detection-harness.ts';
import { GatewayProcess } from './support/exactly-once-bench.ts';
import { TestRedisServer } from './support/redis-server.ts';

// The same sharing as test/shared-health.test.ts, with three separate `paypath serve` processes:
// nothing is shared between them but the Redis server.

const POLL = { timeout: 15_000, interval: 100 };

async function pathStatus(
  gateway: GatewayProcess,
  id: string,
): Promise<{ state: string; requests: number } | undefined> {
  const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
    paths: { id: string; state: string; requests: number }[];
  };
  return status.paths.find((p) => p.id === id);
}

describe('shared health across gateway processes', () => {
  let rig: DetectionRig | undefined;
  let redis: TestRedisServer | undefined;
  const gateways: GatewayProcess[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.kill();
    await rig?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    rig = redis = dir = undefined;
  });

  it('a cut seen by one process is applied by the other two, with no payment through them', async () => {
    rig = await DetectionRig.start();
    redis = await TestRedisServer.start();
    dir = mkdtempSync(join(tmpdir(), 'paypath-shared-'));
    // Only the first process probes; the others can learn of the cut only through Redis.
    const probing = join(dir, 'probing.json');
    const quiet = join(dir, 'quiet.json');
    writeFileSync(
      probing,
      JSON.stringify(rig.policy({ probe: { enabled: true, intervalMs: 100, timeoutMs: 1_000 } })),
    );
    writeFileSync(quiet, JSON.stringify(rig.policy({ probe: { enabled: false } })));
    gateways.push(
      ...(await Promise.all([
        GatewayProcess.start(probing, redis.url),
        GatewayProcess.start(quiet, redis.url),
        GatewayProcess.start(quiet, redis.url),
      ])),
    );
    const [first, second, third] = gateways as [GatewayProcess, GatewayProcess, GatewayProcess];

    await rig.carrier('a').setMode({ mode: 'blackhole' });
    await expect.poll(async () => (await pathStatus(first, 'a'))?.state, POLL).toBe('open');
    await expect.poll(async () => (await pathStatus(second, 'a'))?.state, POLL).toBe('open');
    await expect.poll(async () => (await pathStatus(third, 'a'))?.state, POLL).toBe('open');
    expect((await pathStatus(second, 'a'))?.requests).toBe(0);
    expect((await pathStatus(third, 'a'))?.requests).toBe(0);
    expect(rig.processor.requests.get('/v1/payments') ?? 0).toBe(0);

    await rig.carrier('a').setMode({ mode: 'up' });
    await expect.poll(async () => (await pathStatus(second, 'a'))?.state, POLL).toBe('closed');
    await expect.poll(async () => (await pathStatus(third, 'a'))?.state, POLL).toBe('closed');
  });
});
