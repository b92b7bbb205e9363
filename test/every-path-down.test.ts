import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/adapters/node/server.ts';
import type { RedundancyAlarmPayload } from '../src/core/health/redundancy-alarm.ts';
import { CarrierProxy } from '../src/demo/carrier.ts';
import { DetectionRig } from './support/detection-harness.ts';
import { parsePrometheusText, sampleValue } from './support/prom-text.ts';
import { until } from './support/poll.ts';

const POLL = { timeout: 15_000, interval: 25 };
const DOWN_AFTER_MS = 600;
const PROBE = { enabled: true, intervalMs: 100, timeoutMs: 200 };

interface StatusDoc {
  redundancy: { level: string; healthy: number };
  paths: {
    id: string;
    state: string;
    silentSince: string | null;
    lastProbe: { at: string; error: string | null } | null;
  }[];
}

interface Answer {
  reference: string;
  status: number;
  code: string | undefined;
  idempotencyKey: string | undefined;
  retryAfter: string | null;
  path: string | null;
}

let nextReference = 1;

async function pay(gateway: RunningGateway): Promise<Answer> {
  const reference = `down-${process.pid}-${nextReference++}`;
  const response = await fetch(`${gateway.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `key-${reference}` },
    body: JSON.stringify({ amount: 100, reference }),
    signal: AbortSignal.timeout(20_000),
  });
  const body = (await response.json().catch(() => ({}))) as {
    error?: { code?: string; idempotencyKey?: string };
  };
  return {
    reference,
    status: response.status,
    code: body.error?.code,
    idempotencyKey: body.error?.idempotencyKey,
    retryAfter: response.headers.get('retry-after'),
    path: response.headers.get('x-paypath-path'),
  };
}

async function statusOf(gateway: RunningGateway): Promise<StatusDoc> {
  return (await (await fetch(`${gateway.url}/status`)).json()) as StatusDoc;
}

async function readyz(gateway: RunningGateway): Promise<number> {
  const response = await fetch(`${gateway.url}/readyz`);
  await response.arrayBuffer();
  return response.status;
}

/** A webhook receiver that keeps every alarm it is sent. */
async function alarmReceiver(): Promise<{
  server: Server;
  url: string;
  received: RedundancyAlarmPayload[];
}> {
  const received: RedundancyAlarmPayload[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as RedundancyAlarmPayload);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alarms`,
    received,
  };
}

async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('every carrier blackholed', () => {
  let rig: DetectionRig | undefined;
  let receiver: Server | undefined;
  afterEach(async () => {
    await rig?.stop();
    await closeServer(receiver);
    rig = receiver = undefined;
  });

  it('is detected as down: /readyz 503, alarm, payments refused unsent; a restored carrier brings it back', async () => {
    const alarms = await alarmReceiver();
    receiver = alarms.server;
    rig = await DetectionRig.start();
    const gateway = await rig.gateway(
      rig.policy({
        probe: PROBE,
        redundancy: { alertBelow: 3, webhooks: [alarms.url], downAfterMs: DOWN_AFTER_MS },
        routes: [
          {
            id: 'payments',
            match: { method: 'POST', path: '/v1/payments' },
            class: 'payment',
            paths: ['a', 'b', 'c'],
            attemptTimeoutMs: 300,
            deadlineMs: 2_000,
            idempotency: { upstreamHonors: true },
          },
        ],
      }),
    );
    await expect
      .poll(
        async () => (await statusOf(gateway)).paths.every((p) => p.lastProbe?.error === null),
        POLL,
      )
      .toBe(true);
    expect((await statusOf(gateway)).redundancy.level).toBe('N+2');

    for (const id of ['a', 'b', 'c']) await rig.carrier(id).setMode({ mode: 'blackhole' });

    // Payments keep coming, one per check (about 20 per second), until the gateway reports every
    // path down.
    const beforeDetection: Promise<Answer>[] = [];
    await until(
      'the gateway to report every path down while payments keep coming',
      async () => {
        beforeDetection.push(pay(gateway));
        return (await statusOf(gateway)).redundancy.level === 'down';
      },
      { timeoutMs: 15_000, intervalMs: 50, state: () => statusOf(gateway) },
    );
    // Sent before the verdict: outcome unknown, with the key to ask again (or refused, unsent).
    for (const answer of await Promise.all(beforeDetection)) {
      if (answer.status === 502)
        expect(answer).toMatchObject({
          code: 'outcome_unknown',
          idempotencyKey: `key-${answer.reference}`,
        });
      else expect(answer).toMatchObject({ status: 503, code: 'no_path_available' });
    }

    const down = await statusOf(gateway);
    expect(down.redundancy).toMatchObject({ level: 'down', healthy: 0 });
    expect(down.paths.every((p) => p.silentSince !== null)).toBe(true);
    expect(await readyz(gateway)).toBe(503);
    const metrics = parsePrometheusText(await (await fetch(`${gateway.url}/metrics`)).text());
    expect(sampleValue(metrics, 'paypath_redundancy_level')).toBe(-1);
    expect(sampleValue(metrics, 'paypath_paths_healthy')).toBe(0);
    await expect
      .poll(
        () => alarms.received.some((a) => a.event === 'redundancy.dropped' && a.to === 'down'),
        POLL,
      )
      .toBe(true);

    const refused: Answer[] = [];
    for (let i = 0; i < 5; i++) refused.push(await pay(gateway));
    for (const answer of refused)
      expect(answer).toMatchObject({
        status: 503,
        code: 'no_path_available',
        retryAfter: '1',
        path: null,
      });

    await rig.carrier('b').setMode({ mode: 'up' });
    await expect.poll(async () => (await statusOf(gateway)).redundancy.level, POLL).toBe('N+0'); // b alone
    expect(await readyz(gateway)).toBe(200);
    const after = await pay(gateway);
    expect(after).toMatchObject({ status: 201, path: 'b' });
    await expect
      .poll(
        () => alarms.received.some((a) => a.event === 'redundancy.recovered' && a.from === 'down'),
        POLL,
      )
      .toBe(true);

    // The refused payments never reached the processor, not even late, when the held bytes of the
    // payments sent into the black hole are delivered as the carriers come back.
    await rig.carrier('a').setMode({ mode: 'up' });
    await rig.carrier('c').setMode({ mode: 'up' });
    await expect.poll(async () => (await statusOf(gateway)).redundancy.level, POLL).toBe('N+2');
    for (const answer of refused) expect(rig.processor.chargesFor(answer.reference)).toBe(0);
    expect(rig.processor.chargesFor(after.reference)).toBe(1);
    expect(rig.processor.duplicateCharges).toBe(0);
  });
});

describe('a processor answering 5xx on every path', () => {
  let carriers: CarrierProxy[] = [];
  let processor: Server | undefined;
  let rig: DetectionRig | undefined;
  afterEach(async () => {
    await rig?.stop();
    for (const carrier of carriers) await carrier.stop();
    await closeServer(processor);
    carriers = [];
    rig = processor = undefined;
  });

  it('is reachable, not down: payments still get its own answer', async () => {
    // Every request, probes included, gets 503: the processor is failing but answering.
    processor = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end('{"error":{"code":"processor_unavailable"}}'),
      );
    });
    await new Promise<void>((resolve) => processor!.listen(0, '127.0.0.1', resolve));
    const port = (processor.address() as AddressInfo).port;
    for (const [i, id] of ['a', 'b', 'c'].entries()) {
      carriers.push(
        await new CarrierProxy({
          name: id,
          host: `127.0.1.${i + 1}`,
          target: { host: '127.0.0.1', port },
        }).start(),
      );
    }
    rig = await DetectionRig.start([]);
    const policy = rig.policy({
      probe: PROBE,
      redundancy: { alertBelow: 3, webhooks: [], downAfterMs: DOWN_AFTER_MS },
    });
    policy.paths = carriers.map((c) => ({ id: c.name, upstream: c.url, grade: 'hot' as const }));
    policy.routes = [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: ['a', 'b', 'c'],
        idempotency: { upstreamHonors: true },
      },
    ];
    const gateway = await rig.gateway(policy);

    // Wait until every path has been probed well after one detection window.
    const windowEnd = Date.now() + DOWN_AFTER_MS * 2;
    await expect
      .poll(
        async () =>
          (await statusOf(gateway)).paths.every(
            (p) => p.lastProbe !== null && Date.parse(p.lastProbe.at) > windowEnd,
          ),
        POLL,
      )
      .toBe(true);
    const status = await statusOf(gateway);
    expect(status.redundancy.level).toBe('N+2'); // answering, if only with 5xx: every path counts
    expect(status.paths.every((p) => p.silentSince === null)).toBe(true);
    expect(await readyz(gateway)).toBe(200);
    const answer = await pay(gateway);
    expect(answer).toMatchObject({ status: 503, code: 'processor_unavailable' });
    expect(answer.path).not.toBeNull(); // it went out over a path
  });
});
