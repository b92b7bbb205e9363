import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarrierProxy } from './support/carrier.ts';
import { SimulatedProcessor } from './support/processor.ts';
import { WranglerDev } from './support/wrangler-dev.ts';

// The Worker build in real workerd (wrangler dev, offline), in front of the simulated processor
// and carrier fault proxies on loopback. At the edge each path is a distinct endpoint.

const IDS = ['edge-a', 'edge-b', 'edge-c'] as const;
let processor: SimulatedProcessor;
const carriers = new Map<string, CarrierProxy>();
let worker: WranglerDev;

beforeAll(async () => {
  processor = await new SimulatedProcessor().start();
  for (const [i, id] of IDS.entries()) {
    carriers.set(id, await new CarrierProxy({ name: id, host: `127.0.2.${i + 1}`, target: { host: '127.0.0.1', port: processor.port } }).start());
  }
  const policy = {
    version: 1,
    paths: IDS.map((id) => ({ id, upstream: carriers.get(id)!.url })),
    breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 1_500, windowMs: 10_000 },
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: [...IDS],
        attemptTimeoutMs: 400,
        deadlineMs: 5_000,
        idempotency: { header: 'Idempotency-Key', upstreamHonors: true },
      },
    ],
  };
  worker = await WranglerDev.start({ PAYPATH_POLICY: JSON.stringify(policy) });
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  for (const carrier of carriers.values()) await carrier.stop();
  await processor?.stop();
});

async function pay(reference: string) {
  const response = await fetch(`${worker.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `key-${reference}` },
    body: JSON.stringify({ amount: 1200, reference }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return { status: response.status, path: response.headers.get('x-paypath-path') };
}

async function pathState(id: string): Promise<string> {
  const status = (await (await fetch(`${worker.url}/status`)).json()) as { paths: { id: string; state: string }[] };
  return status.paths.find((p) => p.id === id)!.state;
}

describe('the Worker in workerd', () => {
  it('forwards a payment over the first path', async () => {
    expect(await pay('w-ok')).toEqual({ status: 201, path: 'edge-a' });
  });

  it.each([
    ['refuses', { mode: 'refuse' as const }],
    ['resets', { mode: 'reset' as const }],
    ['is blackholed', { mode: 'blackhole' as const }],
  ])('fails over when the first path %s, charging once', async (name, mode) => {
    await carriers.get('edge-a')!.setMode(mode);
    try {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await pay(`w-${mode.mode}-${i}`));
      expect(results.every((r) => r.status === 201 && r.path !== 'edge-a')).toBe(true);
    } finally {
      await carriers.get('edge-a')!.setMode({ mode: 'up' });
    }
    await new Promise((r) => setTimeout(r, 200)); // held (blackholed) requests land now, and must replay
    for (let i = 0; i < 4; i++) expect(processor.chargesFor(`w-${mode.mode}-${i}`), name).toBe(1);
  });

  it('keeps breaker state across requests and recovers after the reset timeout (no timers needed)', async () => {
    await carriers.get('edge-b')!.setMode({ mode: 'refuse' });
    await carriers.get('edge-a')!.setMode({ mode: 'refuse' });
    for (let i = 0; i < 3; i++) expect((await pay(`w-open-${i}`)).path).toBe('edge-c');
    expect(await pathState('edge-a')).toBe('open');
    await carriers.get('edge-a')!.setMode({ mode: 'up' });
    await carriers.get('edge-b')!.setMode({ mode: 'up' });
    // An opossum breaker kept across requests in workerd would stay open for ever; this one half-opens.
    await expect.poll(async () => (await pay(`w-back-${Date.now()}`)).path, { timeout: 6_000, interval: 250 }).toBe('edge-a');
    expect(await pathState('edge-a')).toBe('closed');
    expect(processor.duplicateCharges).toBe(0);
  });
});
