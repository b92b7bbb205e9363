import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsStack } from './support/ops-harness.ts';
import { parsePrometheusText, sampleValue } from './support/prom-text.ts';
import { POLL } from './support/poll.ts';

describe('metered paths', () => {
  let stack: OpsStack;
  let receiver: Server;
  const warnings: { threshold: number; path: string }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        warnings.push(JSON.parse(body) as { threshold: number; path: string });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/budget`;
    stack = await OpsStack.start({
      edit: (policy) => {
        policy.paths[0]!.budget = {
          requestsPerMonth: 5,
          overBudgetClasses: ['payment'],
          webhooks: [hook],
        };
        policy.routes.push({
          id: 'billing',
          match: { method: 'POST', pathPrefix: '/v1/billing/' },
          class: 'billing',
          paths: ['kt-fiber', 'skt-fiber'],
          idempotency: { upstreamHonors: true },
        });
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const billing = async (n: number) => {
    const response = await fetch(`${stack.gateway.url}/v1/billing/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `bill-${n}` },
      body: '{"records": [1, 2]}',
    });
    await response.arrayBuffer();
    return { status: response.status, path: response.headers.get('x-paypath-path') };
  };

  it('warns at 80 % and 100 %, and over budget serves only the classes it still allows', async () => {
    for (let i = 0; i < 4; i++)
      expect((await stack.pay(`meter-${i}`)).headers.get('x-paypath-path')).toBe('kt-fiber');
    await expect.poll(() => warnings.map((w) => w.threshold), POLL).toEqual([80]);
    expect(await billing(1)).toEqual({ status: 202, path: 'kt-fiber' }); // the 5th request: 100 %
    await expect.poll(() => warnings.map((w) => w.threshold), POLL).toEqual([80, 100]);
    expect(warnings[1]).toMatchObject({ path: 'kt-fiber', threshold: 100 });

    // Over budget: billing moves to skt-fiber, payments still ride kt-fiber.
    expect(await billing(2)).toEqual({ status: 202, path: 'skt-fiber' });
    expect((await stack.pay('meter-over')).headers.get('x-paypath-path')).toBe('kt-fiber');

    const status = (await (await fetch(`${stack.gateway.url}/status`)).json()) as {
      usage: {
        path: string;
        overBudget: boolean;
        requests: number;
        byClass: Record<string, { requests: number }>;
      }[];
    };
    const kt = status.usage.find((u) => u.path === 'kt-fiber')!;
    expect(kt).toMatchObject({ overBudget: true, requests: 6 });
    expect(kt.byClass).toMatchObject({ payment: { requests: 5 }, billing: { requests: 1 } });
    const metrics = parsePrometheusText(await (await fetch(`${stack.gateway.url}/metrics`)).text());
    expect(
      sampleValue(metrics, 'paypath_path_budget_used_ratio', { path: 'kt-fiber' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(metrics, 'paypath_path_usage_requests_total', {
        path: 'skt-fiber',
        class: 'billing',
      }),
    ).toBe(1);
    expect(warnings).toHaveLength(2); // each threshold once a month
  });
});
