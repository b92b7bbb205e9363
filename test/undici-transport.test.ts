import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUndiciTransport } from '../src/adapters/node/undici-transport.ts';
import { InterfaceAddresses } from '../src/adapters/node/interface-addresses.ts';
import { AttemptError } from '../src/core/attempt-error.ts';
import type { PathConfig } from '../src/core/policy/schema.ts';
import { discardBody } from '../src/core/transport.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { NetworkInterfaceInfo } from 'node:os';
import { CarrierProxy } from '../src/demo/carrier.ts';
import { SimulatedProcessor } from '../src/demo/processor.ts';
import { REFUSED_PORT } from './support/redis-server.ts';
import { makeTlsFixtures } from './support/tls-fixtures.ts';
import { until } from './support/poll.ts';

let processor: SimulatedProcessor;
let carrier: CarrierProxy;
beforeAll(async () => {
  processor = await new SimulatedProcessor().start();
  carrier = await new CarrierProxy({
    name: 'c',
    host: '127.0.1.9',
    target: { host: '127.0.0.1', port: processor.port },
  }).start();
});
afterAll(async () => {
  await carrier.stop();
  await processor.stop();
});

const path = (upstream: string, extra: Partial<PathConfig> = {}): PathConfig => ({
  id: 'p',
  upstream,
  grade: 'hot',
  cost: 0,
  shareRisk: [],
  connectTimeoutMs: 1_000,
  connectAttemptDelayMs: 250,
  ...extra,
});

async function attempt(config: PathConfig, timeoutMs = 300): Promise<AttemptError | number> {
  const transport = createUndiciTransport(config);
  try {
    const response = await transport.send(
      {
        method: 'POST',
        target: '/v1/payments',
        headers: new Headers({ 'content-type': 'application/json' }),
        body: new TextEncoder().encode('{"amount":100,"reference":"t"}'),
      },
      { signal: AbortSignal.timeout(timeoutMs), bodyTimeoutMs: 1_000 },
    );
    await discardBody(response);
    return response.status;
  } catch (error) {
    if (error instanceof AttemptError) return error;
    throw error;
  } finally {
    await transport.close();
  }
}

describe('undici transport: answers', () => {
  it('takes a small answer whole and streams a large one', async () => {
    const big = 'x'.repeat(200_000);
    const server = createServer((req, res) => res.end(req.url === '/big' ? big : '{"ok":true}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const transport = createUndiciTransport(
      path(`http://127.0.0.1:${(server.address() as { port: number }).port}`),
    );
    try {
      const send = (target: string) =>
        transport.send(
          { method: 'GET', target, headers: new Headers(), body: null },
          { signal: AbortSignal.timeout(2_000), bodyTimeoutMs: 2_000 },
        );
      const small = await send('/small');
      expect(small.body).toBeInstanceOf(Uint8Array);
      expect(new TextDecoder().decode(small.body as Uint8Array)).toBe('{"ok":true}');
      const large = await send('/big');
      expect(large.body).toBeInstanceOf(ReadableStream);
      expect(await new Response(large.body).text()).toBe(big);
    } finally {
      await transport.close();
      server.close();
    }
  });
});

describe('undici transport: what reached the wire', () => {
  it('forwards a request and streams the answer', async () => {
    expect(await attempt(path(carrier.url))).toBe(201);
  });

  it('connection refused: not sent', async () => {
    const error = await attempt(path(`http://127.0.0.1:${REFUSED_PORT}`));
    expect(error).toMatchObject({ code: 'connect_refused', wire: 'not_sent' });
  });

  it('a bind address not on this box: not sent (address_unavailable)', async () => {
    const error = await attempt(path(carrier.url, { bind: '192.0.2.1' }));
    expect(error).toMatchObject({ code: 'address_unavailable', wire: 'not_sent' });
  });

  it('blackhole: the request was written, no answer came (sent, response_timeout)', async () => {
    await carrier.setMode({ mode: 'blackhole' });
    try {
      expect(await attempt(path(carrier.url), 200)).toMatchObject({
        code: 'response_timeout',
        wire: 'sent',
      });
    } finally {
      await carrier.setMode({ mode: 'up' });
    }
  });

  it('a processor that resets the connection after reading the whole request: sent (connection_lost)', async () => {
    // Reads the request line, headers and Content-Length bytes of body, then answers with RST.
    const read: string[] = [];
    const server = createNetServer((socket) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
        if (end >= 0 && text.length >= end + 4 + length) {
          read.push(text.slice(end + 4));
          socket.resetAndDestroy();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const error = await attempt(
        path(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
        2_000,
      );
      expect(read).toEqual(['{"amount":100,"reference":"t"}']);
      expect(error).toBeInstanceOf(AttemptError);
      expect(error).toMatchObject({ code: 'connection_lost', wire: 'sent' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('undici transport: warm connections', () => {
  it('opens only the connections missing, counting those still connecting, and reopens them after unused ones close', async () => {
    const opened: number[] = [];
    let open = 0;
    /** The test's own marker connections come from this address; the transport's from 127.0.0.1. */
    const MARKER_SOURCE = '127.0.0.77';
    let markersAccepted = 0;
    const server = createServer((_req, res) => res.end('ok'));
    server.on('connection', (socket) => {
      if (socket.remoteAddress === MARKER_SOURCE) {
        markersAccepted++;
        return;
      }
      opened.push(Date.now());
      open++;
      socket.once('close', () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // Parked connections nobody uses are closed after the keep-alive timeout: long enough that a
    // stalled machine does not close them before the "already warm" check.
    const transport = createUndiciTransport(path(`http://127.0.0.1:${port}`), {
      keepAliveTimeoutMs: 1_000,
    });
    try {
      // The server sees a connection a little after the client has it. A marker connection opened
      // now waits in the same accept queue behind every connection the transport has opened, and
      // connections are accepted in order: once the server has seen the marker, it has seen those.
      const accepted = async () => {
        const before = markersAccepted;
        const marker = connect({ port, host: '127.0.0.1', localAddress: MARKER_SOURCE });
        try {
          await once(marker, 'connect');
          await until('the marker connection accepted', () => markersAccepted > before, {
            timeoutMs: 5_000,
            intervalMs: 5,
          });
        } finally {
          marker.destroy();
        }
        return opened.length;
      };
      await Promise.all([transport.warm!(4), transport.warm!(4)]); // overlapping top-ups
      expect(await accepted()).toBe(4);
      await transport.warm!(4); // already warm
      expect(await accepted()).toBe(4);
      await expect.poll(() => open, { timeout: 5_000 }).toBe(0);
      await transport.warm!(4);
      expect(await accepted()).toBe(8);
      expect(open).toBe(4);
    } finally {
      await transport.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('undici transport: an interface path', () => {
  it("binds the interface's current address, follows it when it changes, and sends nothing while there is none", async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.socket.remoteAddress ?? '');
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // All of 127.0.0.0/8 is on lo: an "interface" whose address the test changes.
    let address: string | undefined = '127.0.0.2';
    const interfaceAddresses = new InterfaceAddresses({
      maxAgeMs: 0,
      read: () => ({
        wwan0: address
          ? [
              {
                address,
                family: 'IPv4',
                internal: false,
                netmask: '255.0.0.0',
                mac: '00:00:00:00:00:00',
                cidr: `${address}/8`,
              },
            ]
          : [],
      }),
    });
    const transport = createUndiciTransport(
      path(`http://127.0.0.1:${(server.address() as { port: number }).port}`, {
        interface: 'wwan0',
      }),
      { interfaceAddresses },
    );
    const send = () =>
      transport.send(
        {
          method: 'POST',
          target: '/v1/payments',
          headers: new Headers(),
          body: new TextEncoder().encode('{}'),
        },
        { signal: AbortSignal.timeout(2_000), bodyTimeoutMs: 2_000 },
      );
    try {
      await discardBody(await send());
      await discardBody(await send());
      address = '127.0.0.3'; // reconnected with a new address
      await discardBody(await send());
      address = undefined; // link down
      const down = await send().catch((error: unknown) => error);
      expect(down).toBeInstanceOf(AttemptError);
      expect(down).toMatchObject({
        code: 'address_unavailable',
        wire: 'not_sent',
        message: 'interface wwan0 has no IPv4 address',
      });
      await expect(transport.connect!(AbortSignal.timeout(1_000))).rejects.toMatchObject({
        code: 'address_unavailable',
        wire: 'not_sent',
      });
      address = '127.0.0.4';
      await discardBody(await send());
      expect(seen).toEqual(['127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
      expect(transport.upstreamAddress!()).toBe('127.0.0.1');
    } finally {
      await transport.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

type OwnAddress = { address: string; family: 'IPv4' | 'IPv6' };

/** An interface `wwan0` whose addresses the test sets: ::1 and 127.0.0.0/8 are on lo. */
function wwan0(own: () => OwnAddress[]): InterfaceAddresses {
  return new InterfaceAddresses({
    maxAgeMs: 0,
    read: () => ({
      wwan0: own().map((a): NetworkInterfaceInfo => {
        const common = {
          address: a.address,
          internal: false,
          mac: '00:00:00:00:00:00',
          cidr: null,
        };
        return a.family === 'IPv4'
          ? { ...common, family: 'IPv4', netmask: '255.0.0.0' }
          : {
              ...common,
              family: 'IPv6',
              netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
              scopeid: 0,
            };
      }),
    }),
  });
}

describe('undici transport: a dual-stack interface path (Happy Eyeballs)', () => {
  it("reaches a host name over IPv6 from the interface's IPv6 address, over IPv4 from its IPv4 one when IPv6 is refused, and follows each address", async () => {
    const seen: string[] = [];
    const answer = (req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.socket.remoteAddress ?? '');
      res.end('{}');
    };
    // `localhost` is ::1 and 127.0.0.1 without DNS; ::1 and 127.0.0.0/8 stand in for the interface's two addresses.
    const v6 = createServer(answer);
    const v4 = createServer(answer);
    // One port on both: the OS picks it on ::1; should it be taken on 127.0.0.1, pick again.
    const port = await until(
      'a port free on both ::1 and 127.0.0.1',
      async () => {
        await new Promise<void>((resolve) =>
          v6.listen({ port: 0, host: '::1', ipv6Only: true }, resolve),
        );
        const candidate = (v6.address() as AddressInfo).port;
        const taken = await new Promise<boolean>((resolve) => {
          v4.once('error', () => resolve(true));
          v4.listen(candidate, '127.0.0.1', () => resolve(false));
        });
        v4.removeAllListeners('error');
        if (!taken) return candidate;
        await new Promise<void>((resolve) => v6.close(() => resolve()));
        return undefined;
      },
      { timeoutMs: 5_000 },
    );
    let own: OwnAddress[] = [
      { address: '127.0.0.2', family: 'IPv4' },
      { address: '::1', family: 'IPv6' },
    ];
    const interfaceAddresses = wwan0(() => own);
    // An attempt delay far past each send's own 2 s deadline: a send that waited it out before
    // trying IPv4 would fail, so one that succeeds over IPv4 tried it at once.
    const transport = createUndiciTransport(
      path(`http://localhost:${port}`, { interface: 'wwan0', connectAttemptDelayMs: 10_000 }),
      { interfaceAddresses },
    );
    const send = async () => {
      const response = await transport.send(
        {
          method: 'POST',
          target: '/v1/payments',
          headers: new Headers(),
          body: new TextEncoder().encode('{}'),
        },
        { signal: AbortSignal.timeout(2_000), bodyTimeoutMs: 2_000 },
      );
      await discardBody(response);
    };
    try {
      await send();
      await send(); // the same connection
      expect(seen).toEqual(['::1', '::1']);
      expect(transport.upstreamAddress!()).toBe('::1');

      // The IPv4 address changes: a new pool, IPv6 still first.
      own = [{ address: '127.0.0.3', family: 'IPv4' }, own[1]!];
      await send();
      expect(seen[2]).toBe('::1');

      // IPv6 refused: IPv4 at once (no attempt delay to wait out), from the interface's IPv4 address.
      v6.closeAllConnections();
      await new Promise((resolve) => v6.close(resolve));
      own = [{ address: '127.0.0.4', family: 'IPv4' }, own[1]!];
      await send();
      expect(seen[3]).toBe('127.0.0.4');

      // Only IPv4 left on the interface; then none at all.
      own = [{ address: '127.0.0.5', family: 'IPv4' }];
      await send();
      expect(seen[4]).toBe('127.0.0.5');
      own = [];
      await expect(send()).rejects.toMatchObject({
        code: 'address_unavailable',
        wire: 'not_sent',
        message: 'interface wwan0 has no IPv6 or IPv4 address',
      });
    } finally {
      await transport.close();
      v4.closeAllConnections();
      await new Promise((resolve) => v4.close(resolve));
      if (v6.listening) await new Promise((resolve) => v6.close(resolve));
    }
  });

  it("over https, verifies the certificate for the upstream's host name, whichever address it connected to", async () => {
    const fixtures = await makeTlsFixtures();
    // The certificate names localhost and 127.0.0.1, not ::1: only the host name makes it valid over IPv6.
    const server = createHttpsServer(
      { cert: fixtures.server.cert, key: fixtures.server.key },
      (req, res) => res.end(req.socket.remoteAddress),
    );
    await new Promise<void>((resolve) =>
      server.listen({ port: 0, host: '::1', ipv6Only: true }, resolve),
    );
    const { port } = server.address() as AddressInfo;
    const ca = fixtures.file('ca.pem', fixtures.ca.cert, 0o644);
    const config = path(`https://localhost:${port}`, {
      interface: 'wwan0',
      tls: { ca, minVersion: 'TLSv1.2' },
    });
    const transport = createUndiciTransport(config, {
      interfaceAddresses: wwan0(() => [
        { address: '127.0.0.2', family: 'IPv4' },
        { address: '::1', family: 'IPv6' },
      ]),
    });
    try {
      const response = await transport.send(
        { method: 'GET', target: '/', headers: new Headers(), body: null },
        { signal: AbortSignal.timeout(2_000), bodyTimeoutMs: 2_000 },
      );
      expect(response.status).toBe(200);
      expect(new TextDecoder().decode(response.body as Uint8Array)).toBe('::1');
    } finally {
      await transport.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      fixtures.cleanup();
    }
  });
});
