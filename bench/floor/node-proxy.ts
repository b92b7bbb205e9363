// The floor below that (TARGET=node): node:http and one undici Pool, no Web Request or Response.
// node bench/floor/node-proxy.ts UPSTREAM_URL PORT
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2]!, { connections: 256 });
createServer((req, res) => {
  if (req.method === 'GET') return void res.end('ok');
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', async () => {
    const answer = await pool.request({
      method: 'POST',
      path: '/v1/payments',
      headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
      body: Buffer.concat(chunks),
    });
    const bytes = Buffer.from(await answer.body.arrayBuffer());
    res
      .writeHead(answer.statusCode, {
        'content-type': String(answer.headers['content-type'] ?? 'application/json'),
        'content-length': bytes.length,
      })
      .end(bytes);
  });
}).listen(Number(process.argv[3]), '127.0.0.1');
