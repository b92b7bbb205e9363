import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { BulkProcessor, bulkPolicy } from './support/bulk-processor.ts';
import { until } from './support/poll.ts';
import { startServeChild, type ServeChild } from './support/serve-child.ts';

// The gateway's memory limits under greedy clients and huge processor answers, checked by what the
// gateway accounts for (bodies held against the budget, answers not kept). The resident memory
// these limits lead to is measured by bench/memory-bounds.ts, not asserted here.
const MiB = 1024 * 1024;

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

describe('gateway memory limits (a paypath serve process)', () => {
  /** A fresh gateway per measurement, so one test's retained memory is not the next one's baseline. */
  async function fresh(limits = ''): Promise<ServeChild> {
    const gateway = await startServeChild(bulkPolicy(processor.url, limits));
    children.push(gateway);
    for (let i = 0; i < 20; i++)
      expect((await pay(gateway, `warm-${i}`, { amount: 1 })).status).toBe(201);
    return gateway;
  }

  it('100 clients each sending 1 MB of a body and stalling: the bodies held stay within the 64 MiB budget, the rest wait, a payment goes through beside them', async () => {
    // The default 64 MiB body budget; bodies wait long enough to be seen waiting.
    const gateway = await fresh('limits: { bodyBudgetWaitMs: 60000, requestTimeoutMs: 120000 }');
    const body = Buffer.alloc(MiB - 1, 'b');
    const { port, hostname } = new URL(gateway.url);
    for (let i = 0; i < 100; i++) {
      const socket = connect(Number(port), hostname);
      sockets.push(socket);
      socket.on('error', () => {});
      socket.write(
        `POST /v1/payments HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nIdempotency-Key: greedy-${i}\r\nContent-Length: ${MiB}\r\n\r\n`,
      );
      socket.write(body);
    }
    type Bodies = { heldBytes: number; budgetBytes: number; waiting: number };
    const held: number[] = [];
    // Until the part of the budget large bodies may fill is full and the rest wait for it.
    const full = await until(
      'bodies held to the budget, the rest waiting',
      async () => {
        const bodies = (await gateway.json('/status')).requestBodies as Bodies;
        held.push(bodies.heldBytes);
        return bodies.waiting > 0 && bodies.heldBytes >= bodies.budgetBytes * (7 / 8) - MiB
          ? bodies
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    expect(full.budgetBytes).toBe(64 * MiB);
    expect(Math.max(...held)).toBeLessThanOrEqual(full.budgetBytes * (7 / 8));
    // A payment still goes through beside them (its body fits in the part kept for small ones).
    expect((await pay(gateway, 'beside-greedy', { amount: 1 })).status).toBe(201);
    const after = (await gateway.json('/status')).requestBodies as Bodies;
    expect(after.heldBytes).toBeLessThanOrEqual(full.budgetBytes * (7 / 8));
    expect(processor.calls.get('beside-greedy')).toBe(1);
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  it('four 24 MiB answers at once (more than the 64 MiB store) stream through whole, are not kept, and no earlier record is dropped', async () => {
    const gateway = await fresh();
    // Records the oversize answers must not push out.
    for (let i = 0; i < 11; i++)
      expect((await pay(gateway, `kept-${i}`, { amount: 1 })).status).toBe(201);
    const answers = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const response = await pay(gateway, `large-${i}`, {
          amount: 1,
          answerBytes: 24 * MiB,
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
    expect(answers).toEqual(
      [0, 1, 2, 3].map(() => ({ status: 201, stored: 'false', bytes: 24 * MiB })),
    );

    // The earlier keys still replay from the store; the oversize ones are refused, not sent again.
    for (let i = 0; i < 11; i++) {
      const again = await pay(gateway, `kept-${i}`, { amount: 1 });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(processor.calls.get(`kept-${i}`)).toBe(1);
    }
    const retry = await pay(gateway, 'large-0', {
      amount: 1,
      answerBytes: 24 * MiB,
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
});
