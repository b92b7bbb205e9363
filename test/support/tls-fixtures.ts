// Certificates made at test time (no network, nothing checked in): a CA, upstream certificates
// signed by it (valid and expired), a self-signed one nobody trusts, and a client certificate
// for mTLS. Written to a temp dir with private keys at mode 0600.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

export interface TlsFixtures {
  dir: string;
  ca: Pem;
  server: Pem;
  expiredServer: Pem;
  selfSigned: Pem;
  clientCa: Pem;
  client: Pem;
  /** Writes `text` to a file in the fixture dir with `mode`; returns its path. */
  file(name: string, text: string, mode?: number): string;
  cleanup(): void;
}

const DAY = 24 * 60 * 60 * 1000;
const loopbackNames = {
  name: 'subjectAltName' as const,
  altNames: [
    { type: 2 as const, value: 'localhost' },
    { type: 7 as const, ip: '127.0.0.1' },
  ],
};

async function makeCa(name: string): Promise<Pem> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      {
        name: 'keyUsage',
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function makeLeaf(
  ca: Pem | undefined,
  options: { cn: string; notBefore?: Date; notAfter?: Date; client?: boolean },
): Promise<Pem> {
  const pems = await generate([{ name: 'commonName', value: options.cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: options.notBefore ?? new Date(Date.now() - DAY),
    notAfterDate: options.notAfter ?? new Date(Date.now() + 30 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: !options.client, clientAuth: options.client === true },
      loopbackNames,
    ],
    ...(ca ? { ca: { cert: ca.cert, key: ca.key } } : {}),
  });
  return { cert: pems.cert, key: pems.private };
}

export async function makeTlsFixtures(): Promise<TlsFixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'paypath-tls-'));
  const ca = await makeCa('paypath test upstream CA');
  const clientCa = await makeCa('paypath test merchant-gateway client CA');
  const [server, expiredServer, selfSigned, client] = await Promise.all([
    makeLeaf(ca, { cn: 'localhost' }),
    makeLeaf(ca, {
      cn: 'localhost',
      notBefore: new Date(Date.now() - 60 * DAY),
      notAfter: new Date(Date.now() - 30 * DAY),
    }),
    makeLeaf(undefined, { cn: 'localhost' }),
    makeLeaf(clientCa, { cn: 'paypath gateway', client: true }),
  ]);
  return {
    dir,
    ca,
    server,
    expiredServer,
    selfSigned,
    clientCa,
    client,
    file(name, text, mode = 0o600) {
      const path = join(dir, name);
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An https upstream on a free loopback port that answers every request 201 and counts them. */
export class TlsUpstream {
  requests = 0;
  readonly #server: Server;

  constructor(options: ServerOptions) {
    this.#server = createServer(options, (req, res) => {
      this.requests++;
      req.resume();
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            ok: true,
            client: (req.socket as { authorized?: boolean }).authorized ?? null,
          }),
        );
      });
    });
    // Handshake failures are the point of these tests; keep them out of the output.
    this.#server.on('tlsClientError', () => {});
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
