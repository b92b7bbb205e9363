/**
 * A minimal Redis client (RESP2) over any byte stream pair: `cloudflare:sockets` on Workers, a
 * node:net socket in tests. ioredis works in workerd only with a client per request and adds
 * ~70 KiB gzip to the bundle; paypath's Worker needs three commands, so this is ~3 KiB instead.
 * One command at a time, each with a timeout, as on Node: Redis is never on a payment's path.
 * On a Redis Cluster it follows one `-MOVED` to the node that owns the key's slot: paypath's health
 * keys all share one slot, so that one node is all the Worker needs.
 */
export interface ByteStreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): Promise<void> | void;
}

export type RespValue = string | number | null | RespValue[] | RespError;

export class RespError extends Error {
  override readonly name = 'RespError';
}

const CRLF = '\r\n';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(args: readonly (string | number)[]): Uint8Array {
  let out = `*${args.length}${CRLF}`;
  for (const arg of args) {
    const text = String(arg);
    out += `$${encoder.encode(text).byteLength}${CRLF}${text}${CRLF}`;
  }
  return encoder.encode(out);
}

/** Parses one reply from `buffer` at `offset`; undefined when more bytes are needed. */
export function parseReply(
  buffer: Uint8Array,
  offset = 0,
): { value: RespValue; next: number } | undefined {
  const lineEnd = indexOfCrlf(buffer, offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = decoder.decode(buffer.subarray(offset + 1, lineEnd));
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (buffer.byteLength < after + length + 2) return undefined;
      return {
        value: decoder.decode(buffer.subarray(after, after + length)),
        next: after + length + 2,
      };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let position = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, position);
        if (!item) return undefined;
        items.push(item.value);
        position = item.next;
      }
      return { value: items, next: position };
    }
    default:
      throw new RespError(`unexpected reply type ${JSON.stringify(type)}`);
  }
}

function indexOfCrlf(buffer: Uint8Array, from: number): number {
  for (let i = from; i < buffer.byteLength - 1; i++)
    if (buffer[i] === 13 && buffer[i + 1] === 10) return i;
  return -1;
}

/** Opens a connection to a Cluster node named by a `-MOVED` reply (host '' means the host already used). */
export type RespRedirect = (host: string, port: number) => Promise<RespClient>;

/** The address in `MOVED <slot> <host>:<port>`, or undefined for any other reply. */
export function movedTarget(error: unknown): { host: string; port: number } | undefined {
  if (!(error instanceof RespError)) return undefined;
  const match = /^MOVED \d+ (.*):(\d+)$/.exec(error.message);
  // '?' is Redis's "endpoint unknown": nothing to follow.
  if (!match || match[1] === '?') return undefined;
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

export class RespClient {
  readonly #streams: ByteStreamPair;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #timeoutMs: number;
  readonly #redirect: RespRedirect | undefined;
  /** After a MOVED: the owning node's client, which takes every later command. */
  #moved: RespClient | undefined;
  #buffer = new Uint8Array(0);
  #queue: Promise<unknown> = Promise.resolve();
  /** Set after a timeout: a late reply would be taken for the next command's, so the client is done. */
  #broken: RespError | undefined;

  /** `redirect`: how to reach the node a `-MOVED` names; without it a MOVED is an error like any other. */
  constructor(
    streams: ByteStreamPair,
    options: { timeoutMs?: number; redirect?: RespRedirect } = {},
  ) {
    this.#streams = streams;
    this.#reader = streams.readable.getReader();
    this.#writer = streams.writable.getWriter();
    this.#timeoutMs = options.timeoutMs ?? 250;
    this.#redirect = options.redirect;
  }

  /** Sends one command and resolves with its reply; rejects on a Redis error or after the timeout. */
  command(...args: (string | number)[]): Promise<RespValue> {
    const run = this.#queue.then(() => this.#send(args));
    this.#queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await Promise.all([
      Promise.resolve(this.#streams.close()).catch(() => {}),
      this.#moved?.close(),
    ]);
  }

  /**
   * Follows a MOVED once per client: the redirected client gets no redirect of its own, so a
   * cluster still settling its slots costs one extra round trip, never a loop.
   */
  async #send(args: (string | number)[]): Promise<RespValue> {
    if (this.#moved) return this.#moved.command(...args);
    try {
      return await this.#roundTrip(args);
    } catch (error) {
      const target = this.#redirect ? movedTarget(error) : undefined;
      if (!target) throw error;
      this.#moved = await this.#redirect!(target.host, target.port);
      // This connection is no longer used; the owner's answers every later command.
      await Promise.resolve(this.#streams.close()).catch(() => {});
      return this.#moved.command(...args);
    }
  }

  async #roundTrip(args: (string | number)[]): Promise<RespValue> {
    if (this.#broken) throw this.#broken;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#broken = new RespError(`redis command timed out after ${this.#timeoutMs} ms`);
        reject(this.#broken);
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([this.#exchange(args), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #exchange(args: (string | number)[]): Promise<RespValue> {
    await this.#writer.write(encodeCommand(args));
    for (;;) {
      const parsed = parseReply(this.#buffer);
      if (parsed) {
        this.#buffer = this.#buffer.subarray(parsed.next);
        if (parsed.value instanceof RespError) throw parsed.value;
        return parsed.value;
      }
      const { done, value } = await this.#reader.read();
      if (done) throw new RespError('redis connection closed');
      const joined = new Uint8Array(this.#buffer.byteLength + value.byteLength);
      joined.set(this.#buffer);
      joined.set(value, this.#buffer.byteLength);
      this.#buffer = joined;
    }
  }
}

/** Opens a byte stream to host:port (TLS when asked): `cloudflare:sockets` on Workers, node:net in tests. */
export type OpenStream = (host: string, port: number, tls: boolean) => ByteStreamPair;

/**
 * A RESP client from a `redis://[[user]:password@]host[:port]` or `rediss://` URL: authenticated
 * when the URL has a password, and following one `-MOVED` (with the same credentials and TLS), so
 * the URL may name any node of a Redis Cluster.
 */
export async function connectResp(
  url: string,
  open: OpenStream,
  timeoutMs = 250,
): Promise<RespClient> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new Error(`REDIS_URL must be redis:// or rediss://, got ${parsed.protocol}`);
  const tls = parsed.protocol === 'rediss:';
  const password = decodeURIComponent(parsed.password);
  const user = decodeURIComponent(parsed.username);
  const connectTo = async (
    host: string,
    port: number,
    redirect?: RespRedirect,
  ): Promise<RespClient> => {
    const client = new RespClient(open(host, port, tls), {
      timeoutMs,
      ...(redirect ? { redirect } : {}),
    });
    if (password) {
      await client
        .command('AUTH', ...(user ? [user, password] : [password]))
        .catch(async (error: unknown) => {
          await client.close();
          throw error;
        });
    }
    return client;
  };
  return connectTo(parsed.hostname, Number(parsed.port || 6379), (host, port) =>
    connectTo(host || parsed.hostname, port),
  );
}
