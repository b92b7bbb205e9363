import { describe, expect, it } from 'vitest';
import { TimestampBreaker } from '../breaker/timestamp-breaker.ts';
import { AttemptError } from '../attempt-error.ts';
import { Gateway } from '../gateway.ts';
import type { UpstreamRequest, UpstreamResponse } from '../transport.ts';
import type { QueuedRequest } from './forward-queue.ts';
import { QueueForwarder } from './forwarder.ts';
import { MemoryForwardQueue } from './memory-queue.ts';
import { policyFromObject } from '../../../test/support/policy.ts';

function setup(
  upstream: (request: UpstreamRequest) => Promise<UpstreamResponse>,
  upstreamHonors = true,
) {
  const policy = policyFromObject({
    version: 1,
    paths: [{ id: 'a', upstream: 'http://127.0.0.1:1' }],
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: ['a'],
        whenAllDown: 'queue',
        idempotency: { upstreamHonors },
      },
    ],
    queue: { payments: { floorLimit: 1000, merchantExposureCap: 1000, maxAgeMs: 60_000 } },
  });
  const sent: string[] = [];
  const gateway = new Gateway({
    policy,
    policyHash: 't',
    breakerFactory: (config) => new TimestampBreaker(config),
    transportFactory: () => ({
      send: (request) => {
        sent.push(request.headers.get('idempotency-key') ?? '');
        return upstream(request);
      },
      close: async () => {},
    }),
  });
  let now = 1_000_000;
  const queue = new MemoryForwardQueue({ now: () => now });
  const deadLettered: string[] = [];
  const errors: string[] = [];
  const logger = {
    info() {},
    warn() {},
    error: (fields: object) => void errors.push(String((fields as { event?: string }).event)),
  };
  const forwarder = new QueueForwarder({
    queue,
    gateway: () => gateway,
    now: () => now,
    logger,
    onDeadLetter: (request, reason) => deadLettered.push(`${request.id}: ${reason}`),
  });
  const request = (id: string, enqueuedAt: number): QueuedRequest => ({
    id,
    routeId: 'payments',
    method: 'POST',
    target: '/v1/payments',
    headers: [['content-type', 'application/json']],
    bodyBase64: btoa('{"amount":100}'),
    idempotencyKey: `key-${id}`,
    merchant: 'm',
    amount: 100,
    enqueuedAt,
  });
  return {
    queue,
    forwarder,
    sent,
    errors,
    deadLettered,
    request,
    advance: (ms: number) => (now += ms),
    now: () => now,
  };
}

const ok = async () => new Response('{"ok":true}', { status: 201 }) as UpstreamResponse;

describe('QueueForwarder', () => {
  it("forwards in order under each request's own key and frees the merchant's exposure", async () => {
    const { queue, forwarder, sent, request, now } = setup(ok);
    for (const id of ['q1', 'q2', 'q3'])
      expect(
        (await queue.enqueue(request(id, now()), { maxDepth: 10, merchantExposureCap: 300 })).ok,
      ).toBe(true);
    expect(
      await queue.enqueue(request('q4', now()), { maxDepth: 10, merchantExposureCap: 300 }),
    ).toEqual({ ok: false, reason: 'exposure_cap' });
    await forwarder.drain();
    expect(sent).toEqual(['key-q1', 'key-q2', 'key-q3']);
    expect((await queue.get('q2'))?.state).toBe('forwarded');
    expect((await queue.stats(now())).depth).toBe(0);
    expect(
      (await queue.enqueue(request('q5', now()), { maxDepth: 10, merchantExposureCap: 300 })).ok,
    ).toBe(true);
  });

  it('dead-letters a payment older than maxAgeMs without sending it', async () => {
    const { queue, forwarder, sent, deadLettered, request, now, advance } = setup(ok);
    await queue.enqueue(request('old', now()), { maxDepth: 10 });
    advance(60_001);
    await forwarder.drain();
    expect(sent).toEqual([]);
    expect(await queue.get('old')).toMatchObject({ state: 'dead', reason: 'expired' });
    expect(deadLettered).toEqual(['old: expired']);
  });

  it('dead-letters at once a request sent without an answer when the processor does not honour keys', async () => {
    const { queue, forwarder, sent, deadLettered, request, now } = setup(async () => {
      throw new AttemptError('response_timeout', 'sent', 'no answer');
    }, false);
    await queue.enqueue(request('lost', now()), { maxDepth: 10 });
    await forwarder.drain();
    expect(sent).toHaveLength(1);
    expect(await queue.get('lost')).toMatchObject({ state: 'dead', reason: 'outcome_unknown' });
    expect(deadLettered).toEqual(['lost: outcome_unknown']);
  });

  it('keeps the head queued (no attempt counted) while no path can carry it', async () => {
    const { queue, forwarder, request, now } = setup(async () => {
      throw new AttemptError('connect_refused', 'not_sent', 'refused');
    });
    await queue.enqueue(request('wait', now()), { maxDepth: 10 });
    await forwarder.drain();
    expect(await queue.get('wait')).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('never sends a head sealed with a key it lacks: it waits (said once) for an instance that has it', async () => {
    const { queue, forwarder, sent, errors, request, now } = setup(ok);
    await queue.enqueue(
      {
        ...request('sealed', now()),
        target: '',
        headers: [],
        bodyBase64: null,
        unreadable: 'key_unknown',
      },
      { maxDepth: 10 },
    );
    await queue.enqueue(request('next', now()), { maxDepth: 10 });
    await forwarder.drain();
    await forwarder.drain();
    expect(sent).toEqual([]);
    expect(await queue.get('sealed')).toMatchObject({ state: 'queued', attempts: 0 });
    expect(errors).toEqual(['queue_key_unknown']);
  });

  it('dead-letters, unsent, a head whose sealed payload does not authenticate', async () => {
    const { queue, forwarder, sent, request, now } = setup(ok);
    await queue.enqueue(
      {
        ...request('altered', now()),
        target: '',
        headers: [],
        bodyBase64: null,
        unreadable: 'corrupt',
      },
      { maxDepth: 10 },
    );
    await queue.enqueue(request('next', now()), { maxDepth: 10 });
    await forwarder.drain();
    expect(await queue.get('altered')).toMatchObject({
      state: 'dead',
      reason: 'unreadable: altered or corrupt, not sent',
    });
    expect(sent).toEqual(['key-next']);
  });

  it('re-forwards under the same key when the outcome could not be recorded (as after a crash), so the processor de-duplicates', async () => {
    const { queue, forwarder, sent, request, now } = setup(ok);
    await queue.enqueue(request('q1', now()), { maxDepth: 10 });
    const complete = queue.complete.bind(queue);
    let failOnce = true;
    queue.complete = async (...args) => {
      if (failOnce) {
        failOnce = false;
        throw new Error('store lost mid-drain');
      }
      return complete(...args);
    };
    await forwarder.drain();
    expect((await queue.get('q1'))?.state).toBe('queued');
    await forwarder.drain();
    expect((await queue.get('q1'))?.state).toBe('forwarded');
    expect(sent).toEqual(['key-q1', 'key-q1']);
  });
});
