import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { BulkProcessor } from './support/bulk-processor.ts';
import { until } from './support/poll.ts';
import { startServeChild, type ServeChild } from './support/serve-child.ts';

// The gateway's own memory (RSS of a `paypath serve` child, from /proc) under greedy clients and
// huge processor answers. Each bound is one the code before the limits existed went far past.
const MiB = 1024 * 1024;

function policy(upstream: string, limits = ''): string {
  return `version: 1
paths:
  - { id: only, upstream: "${upstream}" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [only]
    deadlineMs: 60000
    attemptTimeoutMs: 30000
probe: { enabled: false }
${limits}`;
}

async function pay(
  gateway: ServeChild,
  key: string,
  body: Record<string, unknown>,
): Promise<Response> {
  return fetch(`${gateway.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
}

const processor = await new BulkProcessor().start();
const children: ServeChild[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(children.map((c) => c.stop()));
  await processor.stop();
});

describe.runIf(process.platform === 'linux')(
  'gateway memory stays bounded (RSS of a paypath serve process)',
  () => {
    /** A fresh gateway per measurement, so one test's retained memory is not the next one's baseline. */
    async function fresh(limits = ''): Promise<ServeChild> {
      const gateway = await startServeChild(policy(processor.url, limits));
      children.push(gateway);
      for (let i = 0; i < 20; i++)
        expect((await pay(gateway, `warm-${i}`, { amount: 1 })).status).toBe(201);
      return gateway;
    }

    it('400 clients each sending 1 MB of a body and stalling: RSS grows by less than the 64 MiB budget and 96 MiB more', async () => {
      // The default 64 MiB body budget; bodies wait long enough to be measured while they wait.
      const gateway = await fresh('limits: { bodyBudgetWaitMs: 60000, requestTimeoutMs: 120000 }');
      const before = gateway.rssBytes();
      const clients = 400;
      const body = Buffer.alloc(MiB - 1, 'b');
      const { port, hostname } = new URL(gateway.url);
      const written: Promise<void>[] = [];
      for (let i = 0; i < clients; i++) {
        const socket = connect(Number(port), hostname);
        sockets.push(socket);
        socket.on('error', () => {});
        socket.write(
          `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nIdempotency-Key: greedy-${i}\r\nContent-Length: ${MiB}\r\n\r\n`,
        );
        written.push(new Promise((resolve) => socket.write(body, () => resolve())));
      }
      const bound = 160 * MiB;
      let peak = 0;
      // Until the budget is full and the rest wait for it (or, without a budget, until RSS passes the bound).
      await until(
        'bodies held to the budget',
        async () => {
          peak = Math.max(peak, gateway.rssBytes() - before);
          if (peak > bound) return true;
          const bodies = (await gateway.json('/status')).requestBodies as
            { heldBytes: number; budgetBytes: number; waiting: number } | undefined;
          return (
            bodies !== undefined &&
            bodies.waiting > 0 &&
            bodies.heldBytes >= bodies.budgetBytes * (7 / 8) - MiB
          );
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      // Everything the clients wrote has reached the kernel; a while longer for the gateway to read what it will.
      await Promise.race([
        Promise.all(written),
        new Promise((resolve) => setTimeout(resolve, 5_000)),
      ]);
      for (let i = 0; i < 20; i++) {
        peak = Math.max(peak, gateway.rssBytes() - before);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(peak, `RSS grew by ${(peak / MiB).toFixed(0)} MiB`).toBeLessThan(bound);
      // A payment still goes through beside them (its body fits in the part kept for small ones).
      expect((await pay(gateway, 'beside-greedy', { amount: 1 })).status).toBe(201);
      for (const socket of sockets.splice(0)) socket.destroy();
    });

    it('four 64 MiB answers at once stream through: RSS grows by less than 128 MiB, and no earlier record is dropped', async () => {
      const gateway = await fresh();
      // Records the oversize answers must not push out.
      for (let i = 0; i < 11; i++)
        expect((await pay(gateway, `kept-${i}`, { amount: 1 })).status).toBe(201);
      const before = gateway.rssBytes();
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, gateway.rssBytes() - before)), 20);
      const answers = await Promise.all(
        [0, 1, 2, 3].map(async (i) => {
          const response = await pay(gateway, `large-${i}`, {
            amount: 1,
            answerBytes: 64 * MiB,
            sized: i % 2 === 0,
          });
          let bytes = 0;
          for await (const chunk of response.body!) bytes += (chunk as Uint8Array).byteLength;
          return {
            status: response.status,
            stored: response.headers.get('x-paypath-answer-stored'),
            bytes,
          };
        }),
      );
      clearInterval(sampler);
      peak = Math.max(peak, gateway.rssBytes() - before);
      expect(peak, `RSS grew by ${(peak / MiB).toFixed(0)} MiB`).toBeLessThan(128 * MiB);
      expect(answers).toEqual(
        [0, 1, 2, 3].map(() => ({ status: 201, stored: 'false', bytes: 64 * MiB })),
      );

      // The earlier keys still replay from the store; the oversize ones are refused, not sent again.
      for (let i = 0; i < 11; i++) {
        const again = await pay(gateway, `kept-${i}`, { amount: 1 });
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(processor.calls.get(`kept-${i}`)).toBe(1);
      }
      const retry = await pay(gateway, 'large-0', {
        amount: 1,
        answerBytes: 64 * MiB,
        sized: true,
      });
      expect(retry.status).toBe(409);
      expect(await retry.json()).toMatchObject({
        error: { code: 'idempotency_answer_not_stored', status: 201 },
      });
      expect(processor.calls.get('large-0')).toBe(1);
      const idempotency = (await gateway.json('/status')).idempotency as {
        droppedBeforeExpiry: number;
      };
      expect(idempotency.droppedBeforeExpiry).toBe(0);
    });
  },
);
