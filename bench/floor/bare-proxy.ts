// The lowest floor (TARGET=bare in bench/cpu-per-request.sh, and a row of the overhead table):
// node:http in and out through one keep-alive Agent, nothing else loaded; no failover at all.
// node bench/floor/bare-proxy.ts UPSTREAM_URL PORT
import { Agent, createServer, request } from 'node:http';

const upstream = new URL(process.argv[2]!);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function readAll(stream: NodeJS.ReadableStream, done: (bytes: Buffer) => void): void {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(Buffer.concat(chunks)));
}

createServer((req, res) => {
  if (req.method === 'GET') return void res.end('ok');
  readAll(req, (body) => {
    const headers = {
      'content-type': 'application/json',
      'content-length': body.length,
      'idempotency-key': crypto.randomUUID(),
    };
    const forward = request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: 'POST',
        path: '/v1/payments',
        headers,
      },
      (answer) =>
        readAll(answer, (bytes) =>
          res
            .writeHead(answer.statusCode ?? 502, {
              'content-type': String(answer.headers['content-type'] ?? 'application/json'),
              'content-length': bytes.length,
            })
            .end(bytes),
        ),
    );
    forward.on('error', () => res.writeHead(502).end());
    forward.end(body);
  });
}).listen(Number(process.argv[3]), '127.0.0.1');
