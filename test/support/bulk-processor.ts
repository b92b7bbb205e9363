import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A processor whose payments answer with `answerBytes` bytes when the request asks for them
 * (streamed from one shared chunk, with or without content-length), else a small JSON charge.
 * Counts the requests per idempotency key.
 */
export class BulkProcessor {
  readonly calls = new Map<string, number>();
  #server: Server | undefined;
  #chunk = Buffer.alloc(64 * 1024, 'z');

  get url(): string {
    return `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      if (req.method !== 'POST') return res.end('ok');
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const key = req.headers['idempotency-key'] as string;
        this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
        const asked = JSON.parse(text) as { answerBytes?: number; sized?: boolean };
        if (!asked.answerBytes) {
          res.writeHead(201, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ id: `ch_${key}`, status: 'succeeded' }));
        }
        res.writeHead(201, {
          'content-type': 'application/octet-stream',
          ...(asked.sized ? { 'content-length': String(asked.answerBytes) } : {}),
        });
        let left = asked.answerBytes;
        const write = () => {
          while (left > 0) {
            const piece =
              left >= this.#chunk.byteLength ? this.#chunk : this.#chunk.subarray(0, left);
            left -= piece.byteLength;
            if (!res.write(piece)) return res.once('drain', write);
          }
          res.end();
        };
        write();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

/**
 * A policy with one path to `upstream` (a BulkProcessor) and a payments route, probes off, for a
 * gateway measured under large bodies and answers; `extra` is YAML added at the top level.
 */
export function bulkPolicy(
  upstream: string,
  extra = '',
  timeouts = { deadlineMs: 60_000, attemptTimeoutMs: 30_000 },
): string {
  return `version: 1
paths:
  - { id: only, upstream: "${upstream}" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [only]
    deadlineMs: ${timeouts.deadlineMs}
    attemptTimeoutMs: ${timeouts.attemptTimeoutMs}
probe: { enabled: false }
${extra}`;
}
