import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { header, readAll, send } from './processor-http.ts';

/**
 * A simulated payment processor that keeps a ledger, used by the tests, the demo and the benchmarks.
 * - Charges are keyed by Idempotency-Key like Stripe's: a repeat of a completed key replays the
 *   stored answer; a repeat while the first is still being processed gets 409 `key_in_use`.
 *   With `honorKeys: false` it is a processor that does not de-duplicate: every POST is processed
 *   again, key or not (only the lookup endpoint still answers by key). Use it for routes that say
 *   `upstreamHonors: false`, so a re-send shows as a second charge.
 * - Payments carry a client `reference`; a second charge for the same reference is a duplicate
 *   charge, counted in `duplicateCharges` (the number every failover test wants to be 0).
 * - `serviceTimeMs` delays every answer; `failNext(n, status)` makes the next n payments fail.
 * - Like a real processor it refuses (400) a body that is not a JSON object (`invalid_json`) and a
 *   new payment without a positive whole `amount` (`amount_required`, `invalid_amount`), before
 *   charging anything.
 */
export interface Charge {
  id: string;
  reference: string | undefined;
  amount: number | undefined;
  idempotencyKey: string | undefined;
  /** Source address the request arrived from: shows which carrier interface it left by. */
  remoteAddress: string;
  at: number;
}

export interface ProcessorOptions {
  host?: string;
  port?: number;
  serviceTimeMs?: number;
  /** Honour Idempotency-Key (replay, 409 while in flight); false processes every POST again. Default: true. */
  honorKeys?: boolean;
  /** Close a client connection after this many requests, as nginx's keepalive_requests does. Default: no limit. */
  maxRequestsPerSocket?: number;
}

interface StoredAnswer {
  status: number;
  body: string;
}

export class SimulatedProcessor {
  readonly charges: Charge[] = [];
  serviceTimeMs: number;
  honorKeys: boolean;
  /** Requests seen per path (e.g. /v1/payments), including replays and health checks. */
  readonly requests = new Map<string, number>();
  /** POSTs that arrived without an Idempotency-Key (the gateway should send one on every attempt). */
  postsWithoutKey = 0;
  /** Calls to the lookup endpoint GET /v1/payments/by-key/{key}. */
  lookups = 0;
  readonly #answers = new Map<string, StoredAnswer>();
  readonly #inFlight = new Set<string>();
  #handling = 0;
  readonly #byReference = new Map<string, number>();
  #failures: { remaining: number; status: number } = { remaining: 0, status: 500 };
  #server: Server | undefined;
  #nextId = 1;
  #options: ProcessorOptions;

  constructor(options: ProcessorOptions = {}) {
    this.#options = options;
    this.serviceTimeMs = options.serviceTimeMs ?? 0;
    this.honorKeys = options.honorKeys ?? true;
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null;
    if (!address) throw new Error('processor not started');
    return `http://${address.address}:${address.port}`;
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo).port;
  }

  /** Charges beyond the first for the same payment reference. */
  get duplicateCharges(): number {
    let duplicates = 0;
    for (const count of this.#byReference.values()) duplicates += Math.max(0, count - 1);
    return duplicates;
  }

  /** Requests being read or answered now. */
  get handling(): number {
    return this.#handling;
  }

  chargesFor(reference: string): number {
    return this.#byReference.get(reference) ?? 0;
  }

  failNext(count: number, status = 500): void {
    this.#failures = { remaining: count, status };
  }

  reset(): void {
    this.charges.length = 0;
    this.#answers.clear();
    this.#byReference.clear();
    this.requests.clear();
  }

  async start(): Promise<this> {
    const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: String(error) }));
      });
    });
    if (this.#options.maxRequestsPerSocket !== undefined)
      server.maxRequestsPerSocket = this.#options.maxRequestsPerSocket;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => resolve());
    });
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#handling++;
    res.once('close', () => this.#handling--);
    const url = new URL(req.url ?? '/', 'http://processor');
    this.requests.set(url.pathname, (this.requests.get(url.pathname) ?? 0) + 1);
    const body = await readAll(req);
    if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { status: 'ok' });
    if (req.method === 'GET' && url.pathname === '/__ledger') {
      return send(res, 200, {
        charges: this.charges.length,
        duplicateCharges: this.duplicateCharges,
        recent: this.charges.slice(-10),
      });
    }
    const byKey =
      req.method === 'GET' ? /^\/v1\/payments\/by-key\/([^/]+)$/.exec(url.pathname) : null;
    if (byKey) return this.#lookup(res, decodeURIComponent(byKey[1]!));
    if (req.method !== 'POST') return send(res, 404, { error: { code: 'not_found' } });

    const key = header(req, 'idempotency-key');
    if (key === undefined) this.postsWithoutKey++;
    if (key !== undefined) {
      const stored = this.#answers.get(key);
      if (this.honorKeys && stored) {
        res.writeHead(stored.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(stored.body),
          'idempotent-replayed': 'true',
        });
        res.end(stored.body);
        return;
      }
      if (this.honorKeys && this.#inFlight.has(key))
        return send(res, 409, {
          error: { code: 'key_in_use', message: 'a request with this key is in progress' },
        });
      this.#inFlight.add(key);
    }
    try {
      if (this.serviceTimeMs > 0) await new Promise((r) => setTimeout(r, this.serviceTimeMs));
      const answer = this.#process(url.pathname, body, key, req.socket.remoteAddress ?? '');
      if (key !== undefined && answer.status < 500) this.#answers.set(key, answer);
      res.writeHead(answer.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer.body),
      });
      res.end(answer.body);
    } finally {
      if (key !== undefined) this.#inFlight.delete(key);
    }
  }

  /**
   * GET /v1/payments/by-key/{key}: what became of a key. Answers like a replay of the original
   * (its status and body, Idempotent-Replayed: true) when it completed, 409 while it is being
   * processed, 404 when no request with that key was seen.
   */
  #lookup(res: ServerResponse, key: string): void {
    this.lookups++;
    const stored = this.#answers.get(key);
    if (stored) {
      res.writeHead(stored.status, {
        'content-type': 'application/json',
        'idempotent-replayed': 'true',
      });
      res.end(stored.body);
      return;
    }
    if (this.#inFlight.has(key)) return send(res, 409, { error: { code: 'key_in_use' } });
    send(res, 404, { error: { code: 'not_found', message: 'no request with this key' } });
  }

  #process(
    pathname: string,
    raw: string,
    key: string | undefined,
    remoteAddress: string,
  ): StoredAnswer {
    const refuse = (code: string, message: string) => ({
      status: 400,
      body: JSON.stringify({ error: { code, message } }),
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return refuse(
        'invalid_json',
        raw === ''
          ? 'the body is empty; expected a JSON object'
          : 'the body is not JSON; expected a JSON object',
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      return refuse('invalid_json', 'expected a JSON object');
    const body = parsed as Record<string, unknown>;
    // A new payment must say how much: a charge of no amount is a client bug, not a sale.
    if (PAYMENT_PATH.test(pathname)) {
      if (body.amount === undefined)
        return refuse(
          'amount_required',
          'amount is required: a whole number of minor units, e.g. 4500',
        );
      if (!Number.isInteger(body.amount) || (body.amount as number) <= 0)
        return refuse(
          'invalid_amount',
          `amount must be a whole number of minor units above 0, got ${JSON.stringify(body.amount)}`,
        );
    }
    if (this.#failures.remaining > 0) {
      this.#failures.remaining--;
      return {
        status: this.#failures.status,
        body: JSON.stringify({ error: { code: 'processor_error' } }),
      };
    }
    if (pathname.startsWith('/v1/billing/')) {
      return {
        status: 202,
        body: JSON.stringify({
          accepted: true,
          records: Array.isArray(body.records) ? body.records.length : 0,
        }),
      };
    }
    const reference = typeof body.reference === 'string' ? body.reference : undefined;
    const charge: Charge = {
      id: `ch_${this.#nextId++}`,
      reference,
      amount: typeof body.amount === 'number' ? body.amount : undefined,
      idempotencyKey: key,
      remoteAddress,
      at: Date.now(),
    };
    this.charges.push(charge);
    if (reference !== undefined)
      this.#byReference.set(reference, (this.#byReference.get(reference) ?? 0) + 1);
    return {
      status: 201,
      body: JSON.stringify({
        id: charge.id,
        status: 'succeeded',
        amount: charge.amount,
        reference,
      }),
    };
  }
}

/** POSTs here create a charge (captures and refunds live below it, billing elsewhere). */
const PAYMENT_PATH = /^\/v1\/payments\/?$/;
