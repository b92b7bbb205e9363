import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicySchema } from '../../core/policy/schema.ts';
import { warmCodePaths } from './code-warm-up.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('warmCodePaths', () => {
  let upstream: Server;
  let seen = 0;
  let url = '';
  beforeAll(async () => {
    upstream = createServer((_req, res) => {
      seen++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => upstream.close(resolve)));

  it('takes every request the whole way through the app, and none upstream', async () => {
    const policy = PolicySchema.parse({
      version: 1,
      paths: [
        { id: 'a', upstream: url },
        { id: 'b', upstream: url },
      ],
      // Merchant keys and webhooks of the real policy must not stop or leave the warm-up.
      merchants: { keys: { env: 'PAYPATH_TEST_NO_SUCH_KEYS' } },
      redundancy: { webhooks: [url] },
      routes: [
        {
          id: 'pay',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: ['a', 'b'],
          idempotency: { upstreamHonors: true },
        },
        {
          id: 'get',
          match: { method: 'GET', pathPrefix: '/v1/charges/' },
          class: 'query',
          paths: ['b'],
        },
      ],
    });
    expect(await warmCodePaths(policy, sha256, 40)).toBe(40);
    expect(seen).toBe(0);
  });
});
