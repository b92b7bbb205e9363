import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedundancyAlarmPayload } from '../src/core/health/redundancy-alarm.ts';
import { DetectionRig, pathState, pay } from './support/detection-harness.ts';
import { POLL } from './support/poll.ts';

describe('active probes', () => {
  let rig: DetectionRig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  it('opens a blackholed path before payments meet it, so payments stop waiting on it', async () => {
    rig = await DetectionRig.start(['a', 'b']);
    const gateway = await rig.gateway(
      rig.policy({ probe: { enabled: true, intervalMs: 100, timeoutMs: 800 } }),
    );
    await expect
      .poll(
        async () => (await statusOf(gateway.url)).paths.find((p) => p.id === 'a')?.lastProbe?.error,
        POLL,
      )
      .toBeNull();

    await rig.carrier('a').setMode({ mode: 'blackhole' });
    await expect.poll(() => pathState(gateway, 'a'), POLL).toBe('open');
    const a = (await statusOf(gateway.url)).paths.find((p) => p.id === 'a')!;
    expect(a.lastProbe?.error).toBe('response_timeout');
    expect(a.transitions.at(-1)?.reason).toBe('probe: response_timeout');

    // Every payment now goes straight to b: one attempt, none spent waiting on a.
    for (let i = 0; i < 5; i++) {
      const answer = await pay(gateway);
      expect(answer).toMatchObject({ status: 201, path: 'b', attempts: 1 });
    }
    expect(rig.processor.duplicateCharges).toBe(0);

    // The probe also runs the recovery: a passing probe closes the path (resetTimeoutMs is 60 s here).
    await rig.carrier('a').setMode({ mode: 'up' });
    await expect.poll(() => pathState(gateway, 'a'), POLL).toBe('closed');
    expect(
      (await statusOf(gateway.url)).paths.find((p) => p.id === 'a')?.transitions.at(-1)?.reason,
    ).toBe('probe-succeeded');
  });

  it('probes cold paths only on demand', async () => {
    rig = await DetectionRig.start(['a', 'b']);
    const policy = rig.policy({ probe: { enabled: true, intervalMs: 50, timeoutMs: 300 } });
    policy.paths = policy.paths.map((p) => (p.id === 'b' ? { ...p, grade: 'cold' as const } : p));
    const gateway = await rig.gateway(policy);
    await expect
      .poll(
        async () => (await statusOf(gateway.url)).paths.find((p) => p.id === 'a')?.lastProbe,
        POLL,
      )
      .not.toBeNull();
    expect((await statusOf(gateway.url)).paths.find((p) => p.id === 'b')?.lastProbe).toBeNull();
    const result = await gateway.gateway.probeNow('b');
    expect(result).toMatchObject({ ok: true, error: null, status: 200 });
    expect(
      (await statusOf(gateway.url)).paths.find((p) => p.id === 'b')?.lastProbe?.error,
    ).toBeNull();
  });
});

describe('redundancy alarms', () => {
  let rig: DetectionRig | undefined;
  let receiver: Server | undefined;
  afterEach(async () => {
    await rig?.stop();
    receiver?.closeAllConnections();
    await new Promise((r) => receiver?.close(r) ?? r(undefined));
    rig = receiver = undefined;
  });

  it('sends a webhook on every drop and recovery, retrying a failed delivery', async () => {
    const received: RedundancyAlarmPayload[] = [];
    let refusals = 1; // the first delivery fails, so the retry is exercised
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (refusals-- > 0) return void res.writeHead(503).end();
        received.push(JSON.parse(body) as RedundancyAlarmPayload);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alarms`;

    rig = await DetectionRig.start();
    const gateway = await rig.gateway(
      rig.policy({ redundancy: { alertBelow: 3, webhooks: [hook] } }),
    );
    expect((await statusOf(gateway.url)).redundancy.level).toBe('N+2');

    await rig.carrier('c').setMode({ mode: 'reset' });
    expect((await gateway.gateway.probeNow('c')).ok).toBe(false);
    await expect.poll(() => received.length, POLL).toBe(1);
    expect(received[0]).toMatchObject({
      event: 'redundancy.dropped',
      from: 'N+2',
      to: 'N+1',
      healthy: 2,
      total: 3,
      belowAlert: true,
    });
    // connect_reset, or connection_lost when the probe rode a warm connection the carrier reset
    expect(received[0]!.cause).toMatchObject({
      path: 'c',
      reason: expect.stringMatching(/^probe: (connect_reset|connection_lost)$/),
    });
    expect(received[0]!.paths).toContainEqual({ id: 'c', state: 'open' });

    await rig.carrier('c').setMode({ mode: 'up' });
    expect((await gateway.gateway.probeNow('c')).ok).toBe(true);
    await expect.poll(() => received.length, POLL).toBe(2);
    expect(received[1]).toMatchObject({
      event: 'redundancy.recovered',
      from: 'N+1',
      to: 'N+2',
      belowAlert: false,
    });
    expect(new Set(received.map((r) => r.id)).size).toBe(2);
  });
});

interface StatusDoc {
  redundancy: { level: string; healthy: number };
  paths: {
    id: string;
    state: string;
    lastProbe: { latencyMs: number; at: string; error: string | null } | null;
    transitions: { reason: string }[];
  }[];
}

async function statusOf(url: string): Promise<StatusDoc> {
  return (await (await fetch(`${url}/status`)).json()) as StatusDoc;
}
