/**
 * A minimal Redis client (RESP2) over any byte stream pair: `cloudflare:sockets` on Workers, a
 * node:net socket in tests. ioredis works in workerd only with a client per request and adds
 * ~70 KiB gzip to the bundle; paypath's Worker needs three commands, so this is ~3 KiB instead.
 * One command at a time, each with a timeout, as on Node: Redis is never on a payment's path.
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
export function parseReply(buffer: Uint8Array, offset = 0): { value: RespValue; next: number } | undefined {
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
      return { value: decoder.decode(buffer.subarray(after, after + length)), next: after + length + 2 };
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
  for (let i = from; i < buffer.byteLength - 1; i++) if (buffer[i] === 13 && buffer[i + 1] === 10) return i;
  return -1;
}

export class RespClient {
  readonly #streams: ByteStreamPair;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #timeoutMs: number;
  #buffer = new Uint8Array(0);
  #queue: Promise<unknown> = Promise.resolve();
  /** Set after a timeout: a late reply would be taken for the next command's, so the client is done. */
  #broken: RespError | undefined;

  constructor(streams: ByteStreamPair, options: { timeoutMs?: number } = {}) {
    this.#streams = streams;
    this.#reader = streams.readable.getReader();
    this.#writer = streams.writable.getWriter();
    this.#timeoutMs = options.timeoutMs ?? 250;
  }

  /** Sends one command and resolves with its reply; rejects on a Redis error or after the timeout. */
  command(...args: (string | number)[]): Promise<RespValue> {
    const run = this.#queue.then(() => this.#roundTrip(args));
    this.#queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await Promise.resolve(this.#streams.close()).catch(() => {});
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
