import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { AttemptTimer } from './attempt-timer.ts';

const busyFor = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('AttemptTimer', () => {
  it('aborts with a TimeoutError after its time', async () => {
    const timer = new AttemptTimer(20);
    await new Promise((resolve) => timer.signal.addEventListener('abort', resolve));
    expect((timer.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('reads an answer that arrived while the loop was blocked before it aborts', async () => {
    const server = createServer();
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const upstream = await accepted;
    try {
      let answered = false;
      client.once('data', () => (answered = true));
      const timer = new AttemptTimer(10);
      // The answer is in the client's socket at once, but the loop is blocked until 40 ms, past the
      // 10 ms timeout: the timer is due first in the loop's next turn, yet must not abort before
      // the socket has been read.
      upstream.write('answer');
      busyFor(40);
      const answeredFirst = await new Promise<boolean>((resolve) =>
        timer.signal.addEventListener('abort', () => resolve(answered)),
      );
      expect(answeredFirst).toBe(true);
    } finally {
      client.destroy();
      upstream.destroy();
      server.close();
    }
  });

  it('never aborts once disposed, before its time or in the extra turn', () => {
    vi.useFakeTimers();
    try {
      const early = new AttemptTimer(5);
      early.dispose();
      const inTurn = new AttemptTimer(5);
      vi.advanceTimersByTime(5); // its time has come; the abort waits for the extra turn
      inTurn.dispose();
      expect(vi.getTimerCount()).toBe(0);
      vi.runAllTimers();
      expect(early.signal.aborted).toBe(false);
      expect(inTurn.signal.aborted).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
