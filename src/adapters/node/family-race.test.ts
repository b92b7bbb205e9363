import type { buildConnector } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { familyRaceConnector, orderCandidates, type FamilyRaceOptions } from './family-race.ts';
import { DnsLookupError, type ResolvedAddress } from './dns-query.ts';
import type { Connector } from './pre-connector.ts';

const V6: ResolvedAddress = { address: '2001:db8::10', family: 6 };
const V4: ResolvedAddress = { address: '192.0.2.10', family: 4 };
const SOURCES = { 6: '2001:db8:3::2', 4: '10.0.3.2' };
const TARGET = {
  hostname: 'pay.example',
  host: 'pay.example:443',
  protocol: 'https:',
  port: '443',
  servername: null,
  localAddress: null,
};

interface FakeAttempt {
  hostname: string;
  host: string;
  localAddress: string | null;
  socket: { destroyed: boolean; destroy(): void; name: string };
  succeed(): void;
  fail(code: string): void;
}

/** undici's connector, faked: each attempt waits until the test connects or fails it. */
function fakeBase() {
  const attempts: FakeAttempt[] = [];
  const base = ((
    options: buildConnector.Options,
    callback: (error: Error | null, socket: unknown) => void,
  ) => {
    const socket = {
      destroyed: false,
      name: `${options.hostname} from ${String(options.localAddress)}`,
      destroy() {
        this.destroyed = true;
      },
    };
    attempts.push({
      hostname: options.hostname,
      host: options.host ?? '',
      localAddress: options.localAddress ?? null,
      socket,
      succeed: () => callback(null, socket),
      fail: (code) => callback(Object.assign(new Error(`connect ${code}`), { code }), null),
    });
    return socket;
  }) as unknown as Connector;
  return { base, attempts };
}

function race(options: Partial<FamilyRaceOptions> & { addresses?: ResolvedAddress[] } = {}) {
  const { base, attempts } = fakeBase();
  const connect = familyRaceConnector(base, {
    lookup: () => options.addresses ?? [V4, V6],
    sources: SOURCES,
    attemptDelayMs: 250,
    ...options,
  });
  const outcome: {
    error?: Error & { code?: string };
    socket?: FakeAttempt['socket'];
    calls: number;
  } = { calls: 0 };
  const pending = connect(
    TARGET as unknown as buildConnector.Options,
    ((error: Error | null, socket: FakeAttempt['socket'] | null) => {
      outcome.calls++;
      if (error) outcome.error = error;
      if (socket) outcome.socket = socket;
    }) as unknown as buildConnector.Callback,
  ) as unknown as { destroy(): void };
  return { attempts, outcome, pending };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('family race (Happy Eyeballs, RFC 8305)', () => {
  it("tries IPv6 first and IPv4 only after the attempt delay, each from its own family's address; the first connected wins", async () => {
    const { attempts, outcome } = race();
    await vi.advanceTimersByTimeAsync(249);
    expect(attempts.map((a) => [a.hostname, a.localAddress])).toEqual([[V6.address, SOURCES[6]]]);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts.map((a) => [a.hostname, a.localAddress])).toEqual([
      [V6.address, SOURCES[6]],
      [V4.address, SOURCES[4]],
    ]);
    // The host (and so the TLS server name) stays the upstream's name.
    expect(attempts.map((a) => a.host)).toEqual([TARGET.host, TARGET.host]);
    attempts[1]!.succeed();
    expect(outcome).toEqual({ socket: attempts[1]!.socket, calls: 1 });
    expect(attempts[0]!.socket.destroyed).toBe(true);
    attempts[0]!.succeed(); // a loser that connects after all is closed, not handed over
    expect(outcome.calls).toBe(1);
  });

  it('never starts IPv4 when IPv6 connects within the delay', async () => {
    const { attempts, outcome } = race();
    await vi.advanceTimersByTimeAsync(100);
    attempts[0]!.succeed();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts).toHaveLength(1);
    expect(outcome.socket).toBe(attempts[0]!.socket);
  });

  it('starts IPv4 at once when IPv6 fails before the delay (network unreachable, refused)', async () => {
    const { attempts, outcome } = race();
    await vi.advanceTimersByTimeAsync(0);
    attempts[0]!.fail('ENETUNREACH');
    expect(attempts.map((a) => a.hostname)).toEqual([V6.address, V4.address]);
    attempts[1]!.succeed();
    expect(outcome.socket).toBe(attempts[1]!.socket);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts).toHaveLength(2); // the delay's timer did not start a third
  });

  it("fails once every attempt failed: with the last failure's code, naming each attempt", async () => {
    const { attempts, outcome } = race();
    await vi.advanceTimersByTimeAsync(250);
    attempts[1]!.fail('ECONNREFUSED');
    expect(outcome.calls).toBe(0); // IPv6 still connecting
    attempts[0]!.fail('UND_ERR_CONNECT_TIMEOUT');
    expect(outcome.calls).toBe(1);
    expect(outcome.error).toBeInstanceOf(AggregateError);
    expect(outcome.error!.code).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(outcome.error!.message).toBe(
      'every connect failed: 192.0.2.10:443 from 10.0.3.2: ECONNREFUSED connect ECONNREFUSED; [2001:db8::10]:443 from 2001:db8:3::2: UND_ERR_CONNECT_TIMEOUT connect UND_ERR_CONNECT_TIMEOUT',
    );
  });

  it('names a TLS failure (a certificate problem) rather than a later refusal when every attempt failed', async () => {
    const { attempts, outcome } = race();
    await vi.advanceTimersByTimeAsync(0);
    attempts[0]!.fail('ERR_TLS_CERT_ALTNAME_INVALID');
    attempts[1]!.fail('ECONNREFUSED');
    expect(outcome.error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('with one family on the interface, connects to that family only; one failed attempt is passed on as it is', async () => {
    const { attempts, outcome } = race({ sources: { 4: SOURCES[4] } });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts.map((a) => [a.hostname, a.localAddress])).toEqual([[V4.address, SOURCES[4]]]);
    attempts[0]!.fail('ECONNREFUSED');
    expect(outcome.error).toMatchObject({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
  });

  it("fails as a DNS failure when the answer has no address of the interface's families, or the lookup fails", async () => {
    const none = race({ sources: { 6: SOURCES[6] }, addresses: [V4] });
    await vi.advanceTimersByTimeAsync(0);
    expect(none.attempts).toEqual([]);
    expect(none.outcome.error).toBeInstanceOf(DnsLookupError);
    expect(none.outcome.error).toMatchObject({
      code: 'ENOTFOUND',
      message: 'no IPv6 address for pay.example',
    });

    const failing = race({
      lookup: () => Promise.reject(new DnsLookupError('EAI_AGAIN', 'resolvers silent')),
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(failing.outcome.error).toMatchObject({ code: 'EAI_AGAIN' });
    const throwing = race({
      lookup: () => {
        throw new DnsLookupError('EAI_AGAIN', 'no answer yet');
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(throwing.outcome.error).toMatchObject({ code: 'EAI_AGAIN', message: 'no answer yet' });
  });

  it('given up (a pre-connect aborted), destroys every attempt under way and starts no more', async () => {
    const { attempts, outcome, pending } = race();
    await vi.advanceTimersByTimeAsync(0);
    pending.destroy();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.socket.destroyed).toBe(true);
    attempts[0]!.succeed();
    expect(outcome.calls).toBe(0);
  });

  it('after IPv4 won because IPv6 stayed silent, tries IPv4 first for familyMemoryMs (IPv6 beside it after the delay), then IPv6 first again', async () => {
    const { base, attempts } = fakeBase();
    const connect = familyRaceConnector(base, {
      lookup: () => [V4, V6],
      sources: SOURCES,
      attemptDelayMs: 250,
      familyMemoryMs: 60_000,
    });
    const sockets: unknown[] = [];
    const open = () =>
      connect(
        TARGET as unknown as buildConnector.Options,
        ((_error: Error | null, socket: unknown) =>
          sockets.push(socket)) as unknown as buildConnector.Callback,
      );
    open();
    await vi.advanceTimersByTimeAsync(250);
    attempts[1]!.succeed(); // IPv4, while IPv6 got no answer
    expect(attempts.map((a) => a.hostname)).toEqual([V6.address, V4.address]);

    open(); // the next connection: IPv4 first, no delay to wait out
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts[2]!.hostname).toBe(V4.address);
    await vi.advanceTimersByTimeAsync(250);
    expect(attempts[3]!.hostname).toBe(V6.address); // still raced, after the delay
    attempts[2]!.succeed();

    await vi.advanceTimersByTimeAsync(60_000);
    open(); // remembered long enough: IPv6 first again
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts[4]!.hostname).toBe(V6.address);
    attempts[4]!.succeed();
    open();
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts[5]!.hostname).toBe(V6.address);
    expect(sockets).toEqual([attempts[1]!.socket, attempts[2]!.socket, attempts[4]!.socket]);
  });

  it('orders several addresses IPv6 first, families alternating, each family rotated per connection', () => {
    const answer: ResolvedAddress[] = [
      { address: '192.0.2.1', family: 4 },
      { address: '192.0.2.2', family: 4 },
      { address: '2001:db8::1', family: 6 },
      { address: '2001:db8::2', family: 6 },
      { address: '2001:db8::3', family: 6 },
    ];
    const order = (turn: number, sources: FamilyRaceOptions['sources'] = SOURCES) =>
      orderCandidates(answer, sources, turn).map((a) => a.address);
    expect(order(0)).toEqual([
      '2001:db8::1',
      '192.0.2.1',
      '2001:db8::2',
      '192.0.2.2',
      '2001:db8::3',
    ]);
    expect(order(1)).toEqual([
      '2001:db8::2',
      '192.0.2.2',
      '2001:db8::3',
      '192.0.2.1',
      '2001:db8::1',
    ]);
    expect(order(0, { 4: SOURCES[4] })).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(orderCandidates(answer, SOURCES, 0, 4).map((a) => a.address)).toEqual([
      '192.0.2.1',
      '2001:db8::1',
      '192.0.2.2',
      '2001:db8::2',
      '2001:db8::3',
    ]);
  });

  it('a failure after the next attempt was started by the timer waits for that one', async () => {
    const { attempts, outcome } = race({
      addresses: [V6, V4, { address: '192.0.2.11', family: 4 }],
    });
    await vi.advanceTimersByTimeAsync(250);
    attempts[0]!.fail('ETIMEDOUT'); // the third starts at once
    expect(attempts.map((a) => a.hostname)).toEqual([V6.address, V4.address, '192.0.2.11']);
    attempts[2]!.succeed();
    expect(outcome.socket).toBe(attempts[2]!.socket);
    expect(attempts[1]!.socket.destroyed).toBe(true);
  });
});
