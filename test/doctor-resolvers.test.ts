import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDoctorDeps } from '../src/adapters/node/doctor-deps.ts';

// `paypath doctor` asks each path's resolvers from the path's own address, so the answer says
// whether that carrier reaches them. A resolver written with a port (`192.0.2.53:5353`) is IPv4
// all the same. A one-record DNS server on loopback notes the address each query came from.

/** Answers every A query with 203.0.113.10 and records where queries came from. */
async function startDnsServer(
  host: string,
): Promise<{ socket: Socket; port: number; sources: string[] }> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const sources: string[] = [];
  socket.on('message', (query, from) => {
    sources.push(from.address);
    const questionEnd = query.indexOf(0, 12) + 5; // the name's closing zero, then type and class
    const header = Buffer.from([query[0]!, query[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 10]);
    socket.send(
      Buffer.concat([header, query.subarray(12, questionEnd), answer]),
      from.port,
      from.address,
    );
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return { socket, port: socket.address().port, sources };
}

describe("doctor asks a path's resolvers from the path's address", () => {
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let dns6: Awaited<ReturnType<typeof startDnsServer>>;
  beforeAll(async () => {
    dns = await startDnsServer('127.0.0.1');
    dns6 = await startDnsServer('::1');
  });
  afterAll(() => {
    dns?.socket.close();
    dns6?.socket.close();
  });

  it("sends from the path's IPv4 address to a resolver written with its port", async () => {
    const deps = nodeDoctorDeps();
    const address = await deps.resolveFrom(
      'processor.example',
      `127.0.0.1:${dns.port}`,
      '127.0.0.2',
      5_000,
    );
    expect(address).toBe('203.0.113.10');
    expect(dns.sources.at(-1)).toBe('127.0.0.2');
  });

  it("sends from the path's IPv6 address to an IPv6 resolver", async () => {
    const deps = nodeDoctorDeps();
    const address = await deps.resolveFrom('processor.example', `[::1]:${dns6.port}`, '::1', 5_000);
    expect(address).toBe('203.0.113.10');
    expect(dns6.sources.at(-1)).toBe('::1');
  });
});
