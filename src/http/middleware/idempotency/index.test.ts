import { describe, expect, it, vi } from 'vitest';
import { AttemptError } from '../../../core/attempt-error.ts';
import { MemoryIdempotencyStore } from '../../../core/idempotency/memory-store.ts';
import type { ClaimResult, IdempotencyStore } from '../../../core/idempotency/store.ts';
import type { UpstreamResponse } from '../../../core/transport.ts';
import { charge, idempotencyApp as setup } from '../../../../test/support/idempotency-app.ts';
import { within } from '../../../../test/support/poll.ts';

describe('idempotency middleware', () => {
  it('replays a completed key byte for byte with Idempotent-Replayed and no upstream call', async () => {
    const { pay, sent } = setup({ upstream: charge });
    const first = await pay('k-1', '{"amount":100,"reference":"r1"}');
    const firstBody = await first.text();
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await pay('k-1', '{"amount":100,"reference":"r1"}');
    expect(again.status).toBe(201);
    expect(await again.text()).toBe(firstBody);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe('application/json');
    expect(again.headers.get('location')).toBe('/v1/payments/x');
    expect(again.headers.get('x-secret-upstream')).toBeNull();
    expect(again.headers.get('idempotency-key')).toBe('k-1');
    expect(sent).toHaveLength(1);
  });

  it('stores an answer that arrived as bytes without reading the response again, and replays those bytes', async () => {
    // The undici transport hands over small answers as bytes, often a view into a larger buffer.
    const backing = new TextEncoder().encode('xx{"id":"ch_bytes","status":"succeeded"}yy');
    const answer = backing.subarray(2, backing.byteLength - 2);
    const store = new MemoryIdempotencyStore();
    const completed: string[] = [];
    const complete = store.complete.bind(store);
    store.complete = async (key, token, stored, ttlMs) => {
      completed.push(stored.bodyBase64);
      return complete(key, token, stored, ttlMs);
    };
    const { pay, sent } = setup({
      store,
      upstream: async () => ({
        status: 201,
        headers: new Headers({ 'content-type': 'application/json' }),
        body: answer,
      }),
    });
    const reads = vi.spyOn(Response.prototype, 'arrayBuffer');
    try {
      const first = await pay('k-bytes', '{"amount":1}');
      expect(reads).not.toHaveBeenCalled();
      expect(first.status).toBe(201);
      expect(await first.text()).toBe('{"id":"ch_bytes","status":"succeeded"}');
    } finally {
      reads.mockRestore();
    }
    expect(completed).toEqual([
      Buffer.from('{"id":"ch_bytes","status":"succeeded"}').toString('base64'),
    ]);
    const again = await pay('k-bytes', '{"amount":1}');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe('application/json');
    expect(await again.text()).toBe('{"id":"ch_bytes","status":"succeeded"}');
    expect(sent).toHaveLength(1);
  });

  it('treats the same JSON with other key order and whitespace as the same request', async () => {
    const { pay, sent } = setup({ upstream: charge });
    await pay('k-2', '{"amount":100,"reference":"r2"}');
    const again = await pay('k-2', '{ "reference": "r2",\n  "amount": 100 }');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(sent).toHaveLength(1);
  });

  it('answers 422 idempotency_key_reused for the same key with a different body', async () => {
    const { pay, sent } = setup({ upstream: charge });
    await pay('k-3', '{"amount":100}');
    const other = await pay('k-3', '{"amount":999}');
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe(
      'idempotency_key_reused',
    );
    expect(sent).toHaveLength(1);
  });

  it('answers 422 for the same key and body with another query: a key belongs to one exact request', async () => {
    const { app, pay, sent } = setup({ upstream: charge });
    expect((await pay('k-q', '{"amount":100}')).status).toBe(201);
    const other = await app.request('/v1/payments?capture=false', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-q' },
      body: '{"amount":100}',
    });
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe(
      'idempotency_key_reused',
    );
    expect(sent.map((s) => s.target)).toEqual(['/v1/payments']);
  });

  it('answers 409 idempotency_key_in_use while the first request is in flight', async () => {
    let finish!: () => void;
    let reached!: () => void;
    const upstreamReached = new Promise<void>((resolve) => (reached = resolve));
    const { pay, sent } = setup({
      upstream: async (request, pathId) => {
        const answered = new Promise<void>((resolve) => (finish = resolve));
        reached();
        await answered;
        return charge(request, pathId);
      },
    });
    const first = pay('k-4', '{"amount":1}');
    await within('the first request reaching the processor', upstreamReached, 5_000);
    const second = await pay('k-4', '{"amount":1}');
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe(
      'idempotency_key_in_use',
    );
    finish();
    expect((await first).status).toBe(201);
    expect(sent).toHaveLength(1);
  });

  it('keeps no record of a generated key when the processor de-duplicates by key, and one when it does not', async () => {
    for (const upstreamHonors of [true, false]) {
      const store = new MemoryIdempotencyStore();
      const { pay, sent } = setup({ upstream: charge, store, idempotency: { upstreamHonors } });
      const response = await pay(undefined, '{"amount":1}');
      expect(response.status).toBe(201);
      const generated = response.headers.get('idempotency-key');
      expect(generated).toMatch(/^pp_/);
      expect(sent[0]!.key).toBe(generated);
      expect(store.size).toBe(upstreamHonors ? 0 : 1);
      // Sent back, the key reaches the processor (which knows it) or is replayed from the record.
      const again = await pay(generated!, '{"amount":1}');
      expect(again.headers.get('idempotent-replayed')).toBe(upstreamHonors ? null : 'true');
      expect(sent).toHaveLength(upstreamHonors ? 2 : 1);
    }
  });

  it('rejects keyless requests with 400 when the route requires a key', async () => {
    const { pay, sent } = setup({ upstream: charge, idempotency: { require: true } });
    const response = await pay(undefined, '{"amount":1}');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'idempotency_key_required',
    );
    expect(sent).toHaveLength(0);
  });

  it('does not store a 5xx answer: the retry asks the processor again under the same key', async () => {
    let failures = 1;
    const { pay, sent } = setup({
      upstream: async (request, pathId) =>
        failures-- > 0
          ? (new Response('{"error":"boom"}', { status: 500 }) as UpstreamResponse)
          : charge(request, pathId),
    });
    expect((await pay('k-5', '{"amount":1}')).status).toBe(500);
    const retry = await pay('k-5', '{"amount":1}');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(sent.map((s) => s.key)).toEqual(['k-5', 'k-5']);
  });

  it('releases the claim after outcome_unknown so the retry re-asks the processor', async () => {
    let lost = 1;
    const { pay, sent } = setup({
      upstream: async (request, pathId) => {
        if (lost-- > 0) throw new AttemptError('response_timeout', 'sent', 'no answer');
        return charge(request, pathId);
      },
    });
    const unknown = await pay('k-6', '{"amount":1}');
    expect(unknown.status).toBe(502);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe(
      'outcome_unknown',
    );
    const retry = await pay('k-6', '{"amount":1}');
    expect(retry.status).toBe(201);
    expect(sent.map((s) => s.key)).toEqual(['k-6', 'k-6']);
  });

  it('keeps payments flowing when the store throws, still sending the key upstream', async () => {
    const broken: IdempotencyStore = {
      kind: 'redis',
      claim: async (): Promise<ClaimResult> => {
        throw new Error('connection refused');
      },
      complete: async () => false,
      release: async () => false,
    };
    const { pay, sent } = setup({ upstream: charge, store: broken });
    const response = await pay('k-7', '{"amount":1}');
    expect(response.status).toBe(201);
    expect(sent.map((s) => s.key)).toEqual(['k-7']);
  });

  it('asks the lookup endpoint over another path after a send without an answer, and returns what it found', async () => {
    const { pay, sent } = setup({
      idempotency: { upstreamHonors: false, lookup: '/v1/payments/by-key/{key}' },
      upstream: async (request, pathId) => {
        if (request.method === 'POST')
          throw new AttemptError('response_timeout', 'sent', 'no answer');
        expect(pathId).toBe('b');
        return new Response('{"id":"ch_found"}', {
          status: 201,
          headers: { 'idempotent-replayed': 'true', 'content-type': 'application/json' },
        }) as UpstreamResponse;
      },
    });
    const response = await pay('k/8', '{"amount":1}');
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('{"id":"ch_found"}');
    expect(response.headers.get('x-paypath-reconciled')).toBe('true');
    expect(sent.map((s) => `${s.method} ${s.target} ${s.pathId}`)).toEqual([
      'POST /v1/payments a',
      'GET /v1/payments/by-key/k%2F8 b',
    ]);
  });

  it('answers outcome_unknown when the lookup does not know the key and the processor does not honour keys', async () => {
    const { pay, sent } = setup({
      idempotency: { upstreamHonors: false, lookup: '/v1/payments/by-key/{key}' },
      upstream: async (request) => {
        if (request.method === 'POST')
          throw new AttemptError('response_timeout', 'sent', 'no answer');
        return new Response('{}', { status: 404 }) as UpstreamResponse;
      },
    });
    const response = await pay('k-9', '{"amount":1}');
    expect(response.status).toBe(502);
    expect(sent.filter((s) => s.method === 'POST')).toHaveLength(1);
    expect(sent.filter((s) => s.method === 'GET')).toHaveLength(1);
  });

  it('streams a final answer larger than maxAnswerBytes without keeping it, and refuses a retry of its key without sending it again', async () => {
    const chunk = new Uint8Array(1_000).fill(120);
    const { pay, sent, store } = setup({
      idempotencyStore: { maxAnswerBytes: 4_096 },
      upstream: async (request) => {
        if (request.headers.get('idempotency-key') === 'k-small') return charge(request, 'a');
        let left = 10;
        const body = new ReadableStream<Uint8Array>({
          pull: (c) => (left-- > 0 ? c.enqueue(chunk) : c.close()),
        });
        return new Response(body, {
          status: 201,
          headers: { 'content-type': 'application/octet-stream' },
        }) as UpstreamResponse;
      },
    });
    const small = await pay('k-small', '{"amount":1}');
    const smallBody = await small.text();
    const large = await pay('k-large', '{"amount":2}');
    expect(large.status).toBe(201);
    expect(large.headers.get('x-paypath-answer-stored')).toBe('false');
    expect((await large.arrayBuffer()).byteLength).toBe(10_000);
    expect((store as MemoryIdempotencyStore).bytes).toBeLessThan(4_096);

    const retry = await pay('k-large', '{"amount":2}');
    expect(retry.status).toBe(409);
    expect(await retry.json()).toMatchObject({
      error: { code: 'idempotency_answer_not_stored', idempotencyKey: 'k-large', status: 201 },
    });
    // The earlier key still replays from the store; neither retry reached the processor.
    const smallAgain = await pay('k-small', '{"amount":1}');
    expect(smallAgain.headers.get('idempotent-replayed')).toBe('true');
    expect(await smallAgain.text()).toBe(smallBody);
    expect(sent.map((s) => s.key)).toEqual(['k-small', 'k-large']);
  });

  it('keeps an answer within maxAnswerBytes that arrived as a stream, and replays it byte for byte', async () => {
    const { pay, sent } = setup({
      idempotencyStore: { maxAnswerBytes: 4_096 },
      upstream: async () => {
        let left = 3;
        const body = new ReadableStream<Uint8Array>({
          pull: (c) =>
            left-- > 0 ? c.enqueue(new TextEncoder().encode(`part${left};`)) : c.close(),
        });
        return new Response(body, { status: 200 }) as UpstreamResponse;
      },
    });
    const first = await pay('k-stream', '{"amount":3}');
    expect(first.headers.get('x-paypath-answer-stored')).toBeNull();
    expect(await first.text()).toBe('part2;part1;part0;');
    const again = await pay('k-stream', '{"amount":3}');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe('part2;part1;part0;');
    expect(sent).toHaveLength(1);
  });
});
