import type { IncomingMessage } from 'node:http';
import { PaypathError } from '../../core/errors.ts';
import type { BodyAllowance } from '../../http/body-allowance.ts';
import type { RequestBodyReader } from '../../http/env.ts';
import { readWebRequestBody } from '../../http/middleware/request-body/index.ts';
import { bodyTooLarge, joinChunks } from '../../http/read-body.ts';

/**
 * Reads the body straight from Node's IncomingMessage. Going through the Web Request made
 * @hono/node-server build a full undici Request and a Web stream for every payment (about 7 % of
 * the gateway's CPU in the profile). Past `maxBytes` the rest is drained unread, so the 413 can
 * still be sent on the connection.
 *
 * The bytes come out of the process's body budget before they are read: a declared length at
 * once; an unsized (chunked) body chunk by chunk, the stream paused while it waits, so the sender
 * is held back by TCP rather than by our memory. The whole request must arrive within
 * limits.requestTimeoutMs (node:http's requestTimeout, see server.ts): a sender that stalls has its
 * connection cut, which ends the read here.
 */
export const readIncomingBody: RequestBodyReader = async (c, maxBytes, allowance) => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  // Not served by node:http (app.request() in tests), or already read: the Web Request has it.
  if (!incoming || incoming.readableDidRead) return readWebRequestBody(c, maxBytes, allowance);
  const declared = Number(incoming.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw bodyTooLarge(maxBytes);
  const sized = Number.isFinite(declared) && declared > 0;
  if (sized && !allowance.tryTake(declared)) await allowance.take(declared);
  return readChunks(incoming, maxBytes, sized ? undefined : allowance);
};

/** Reads to the end; `allowance` is given for an unsized body, whose chunks are taken one by one. */
function readChunks(
  incoming: IncomingMessage,
  maxBytes: number,
  allowance: BodyAllowance | undefined,
): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    // Gone while this request waited for budget: no more events will come.
    if (incoming.destroyed) {
      reject(incomplete());
      return;
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    let failed = false;
    const fail = (error: Error) => {
      failed = true;
      stop();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        fail(bodyTooLarge(maxBytes));
        incoming.resume();
        return;
      }
      if (allowance === undefined || allowance.tryTake(chunk.byteLength)) {
        chunks.push(chunk);
        return;
      }
      incoming.pause();
      allowance.take(chunk.byteLength).then(
        () => {
          if (failed) return;
          chunks.push(chunk);
          incoming.resume();
        },
        (error: Error) => {
          if (!failed) fail(error);
        },
      );
    };
    const onEnd = () => {
      stop();
      resolve(joinChunks(chunks, total));
    };
    // The connection went before the body ended: its sender gave up, or requestTimeout cut it.
    const onClose = () => {
      if (!incoming.complete && !failed) fail(incomplete());
    };
    const onError = (error: Error) => {
      if (!failed) fail(incoming.complete ? error : incomplete(error));
    };
    const stop = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

function incomplete(cause?: Error): PaypathError {
  return new PaypathError(
    'request_incomplete',
    400,
    'the connection closed before the request body was complete',
    { cause },
  );
}
