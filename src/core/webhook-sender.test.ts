import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from './logger.ts';
import { WebhookSender } from './webhook-sender.ts';

function recordingLogger() {
  const errors: { fields: Record<string, unknown>; message: string | undefined }[] = [];
  const logger: Logger = {
    info() {},
    warn() {},
    error: (fields, message) =>
      void errors.push({ fields: fields as Record<string, unknown>, message }),
  };
  return { logger, errors };
}

const SECRET_URL = 'https://user:pw@hooks.example/services/T0/B0/secret-token?key=abc';

describe('WebhookSender', () => {
  afterEach(() => void vi.useRealTimers());

  it('retries a failed delivery with growing delays until one succeeds, sending the same JSON each time', async () => {
    vi.useFakeTimers(); // the backoff sleeps, and Date.now() of each try
    const tries: { at: number; body: string; userAgent: string | null }[] = [];
    const fake: typeof fetch = async (_url, init) => {
      tries.push({
        at: Date.now(),
        body: String(init?.body),
        userAgent: new Headers(init?.headers).get('user-agent'),
      });
      return new Response(null, { status: tries.length < 3 ? 503 : 204 });
    };
    const { logger, errors } = recordingLogger();
    const sender = new WebhookSender({
      kind: 'test',
      userAgent: 'paypath-test',
      logger,
      fetch: fake,
      baseDelayMs: 20,
    });
    sender.send('http://hook.test/a', { n: 1 });
    await vi.advanceTimersByTimeAsync(19);
    expect(tries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // 20 ms
    expect(tries).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(39);
    expect(tries).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // then 40 ms
    expect(tries).toHaveLength(3);
    await Promise.all(sender.pending);
    expect(tries.every((t) => t.body === '{"n":1}' && t.userAgent === 'paypath-test')).toBe(true);
    expect(tries.map((t) => t.at - tries[0]!.at)).toEqual([0, 20, 60]);
    expect(errors).toEqual([]);
  });

  it('gives up after maxTries and logs the URL origin only, never its path, query or credentials', async () => {
    let calls = 0;
    const fake: typeof fetch = async () => {
      calls++;
      throw new TypeError('fetch failed');
    };
    const { logger, errors } = recordingLogger();
    const sender = new WebhookSender({
      kind: 'budget',
      userAgent: 'paypath-budget',
      logger,
      fetch: fake,
      maxTries: 3,
      baseDelayMs: 1,
    });
    sender.send(SECRET_URL, {}, { path: 'lte' });
    await Promise.all(sender.pending);
    expect(calls).toBe(3);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.fields).toEqual({
      event: 'webhook_failed',
      kind: 'budget',
      url: 'https://hooks.example',
      tries: 3,
      failure: 'fetch failed',
      path: 'lte',
    });
    expect(JSON.stringify(errors)).not.toMatch(/secret-token|key=abc|pw/);
  });

  it('ends a try that does not answer within timeoutMs and counts it as failed', async () => {
    vi.useFakeTimers();
    const signals: AbortSignal[] = [];
    const fake: typeof fetch = (_url, init) => {
      signals.push(init!.signal!);
      return new Promise(() => {}); // never answers
    };
    const { logger, errors } = recordingLogger();
    const sender = new WebhookSender({
      kind: 'test',
      userAgent: 'ua',
      logger,
      fetch: fake,
      maxTries: 2,
      baseDelayMs: 1,
      timeoutMs: 30,
    });
    sender.send('http://hook.test/', {});
    await vi.advanceTimersByTimeAsync(29);
    expect(signals.map((s) => s.aborted)).toEqual([false]);
    await vi.advanceTimersByTimeAsync(1);
    expect(signals[0]!.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(1 + 30); // the backoff, then the second try's timeout
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
    await Promise.all(sender.pending);
    expect(errors.map((e) => e.fields.failure)).toEqual(['timeout']);
  });

  it('close() ends a delivery waiting between tries at once, without logging it as failed', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const fake: typeof fetch = async () => {
      calls++;
      return new Response(null, { status: 500 });
    };
    const { logger, errors } = recordingLogger();
    const sender = new WebhookSender({
      kind: 'test',
      userAgent: 'ua',
      logger,
      fetch: fake,
      baseDelayMs: 60_000,
    });
    sender.send('http://hook.test/', {});
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    expect(sender.pending.size).toBe(1); // waiting out the 60 s backoff
    sender.close();
    // No time passes: only the promises that close() let go run.
    await vi.advanceTimersByTimeAsync(0);
    expect(sender.pending.size).toBe(0);
    expect(calls).toBe(1);
    expect(errors).toEqual([]);
  });
});
