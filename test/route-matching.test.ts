import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIERS, Rig } from './support/rig.ts';

/** A POST with the request target sent exactly as written (fetch would resolve `%2e%2e` before sending). */
function post(
  url: string,
  target: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        method: 'POST',
        path: target,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('route matching over real sockets', () => {
  let rig: Rig;

  beforeAll(async () => {
    rig = await Rig.start({
      route: {
        idempotency: { header: 'Idempotency-Key', upstreamHonors: true, require: true },
        contentTypes: ['application/json'],
      },
      policy: (policy) => ({
        ...policy,
        routes: [
          ...policy.routes,
          {
            id: 'captures',
            match: { method: 'POST', pathPrefix: '/v1/payments/' },
            paths: CARRIERS.map((c) => c.id),
          },
        ],
      }),
    });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it("holds a path that the processor reads as /v1/payments to the payments route's rules, not the captures prefix", async () => {
    const body = JSON.stringify({ amount: 4500, reference: 'no-key' });
    for (const target of [
      '/v1/payments/',
      '/v1/payments/x/%2e%2e',
      '/v1//payments',
      '/V1/Payments',
    ]) {
      const keyless = await post(rig.url, target, { 'content-type': 'application/json' }, body);
      expect({ target, status: keyless.status }).toEqual({ target, status: 400 });
      expect(JSON.parse(keyless.body).error.code).toBe('idempotency_key_required');
      const csv = await post(
        rig.url,
        target,
        { 'content-type': 'text/csv', 'idempotency-key': `csv-${target}` },
        'a,b',
      );
      expect({ target, status: csv.status }).toEqual({ target, status: 415 });
    }
    expect(rig.processor.charges).toHaveLength(0);
    // A capture under the prefix still goes through, without a key (the captures route does not require one).
    const capture = await post(
      rig.url,
      '/v1/payments/ch_1/capture',
      { 'content-type': 'application/json' },
      '{}',
    );
    expect(capture.status).toBe(201);
    expect(rig.processor.requests.get('/v1/payments/ch_1/capture')).toBe(1);
  });
});
