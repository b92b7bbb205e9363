import { connect, type Socket } from 'node:net';
import { within } from './poll.ts';

// Clients that put exactly the given bytes on a TCP connection: fetch and node:http would never send
// a second Host header, an oversized header block or a request that trickles in byte by byte.

export interface RawConnection {
  socket: Socket;
  /** Everything received so far. */
  received(encoding?: BufferEncoding): string;
  /** Resolves when the connection has closed, whoever closed it. */
  closed: Promise<void>;
  /** The socket's error, if it had one (a reset by the server is expected in some tests, so it never rejects). */
  error(): Error | undefined;
}

/** Opens a connection to `target` (a URL or host and port) and resolves once it is connected. */
export async function openRaw(
  target: string | { host: string; port: number },
): Promise<RawConnection> {
  const { host, port } =
    typeof target === 'string'
      ? { host: new URL(target).hostname, port: Number(new URL(target).port) }
      : target;
  const socket = connect(port, host);
  const chunks: Buffer[] = [];
  let failure: Error | undefined;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (error) => (failure = error));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: (encoding = 'latin1') => Buffer.concat(chunks).toString(encoding),
    closed,
    error: () => failure,
  };
}

export interface RawAnswer {
  status: number;
  /** Header names in lower case; the last of repeated ones. */
  headers: Map<string, string>;
  body: string;
}

/** Splits an HTTP/1.1 response as received into its status, headers and body. */
export function parseRawAnswer(text: string): RawAnswer {
  const [head = '', body = ''] = text.split(/\r\n\r\n(.*)/s);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Map(
    lines.map(
      (line) =>
        [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ] as const,
    ),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

/**
 * Writes `bytes` on a new connection and reads the answer until the server closes it (send
 * `Connection: close`). Written, not ended: a client that half-closes is taken to have gone away.
 */
export async function rawExchange(
  url: string,
  bytes: string,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  const connection = await openRaw(url);
  connection.socket.write(bytes);
  try {
    await within('an answer or a close', connection.closed, timeoutMs);
  } finally {
    connection.socket.destroy();
  }
  const failure = connection.error();
  if (failure && connection.received() === '') throw failure;
  return parseRawAnswer(connection.received('utf8'));
}
