// The stack's floor for `bench/cpu-per-request.sh` (TARGET=hono): Hono on @hono/node-server
// forwarding each payment through one undici Pool, with none of paypath's work.
// node bench/floor/hono-proxy.ts UPSTREAM_URL PORT
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2]!, { connections: 256 });
const app = new Hono();
app.post('/v1/payments', async (c) => {
  const body = new Uint8Array(await c.req.arrayBuffer());
  const answer = await pool.request({
    method: 'POST',
    path: '/v1/payments',
    headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body,
  });
  const bytes = new Uint8Array(await answer.body.arrayBuffer());
  return new Response(bytes, {
    status: answer.statusCode,
    headers: { 'content-type': String(answer.headers['content-type'] ?? 'application/json') },
  });
});
app.get('/healthz', (c) => c.text('ok'));
serve({ fetch: app.fetch, port: Number(process.argv[3]), hostname: '127.0.0.1' });
