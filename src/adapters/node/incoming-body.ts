import type { IncomingMessage } from 'node:http';
import { readWebRequestBody, type RequestBodyReader } from '../../http/middleware/request-body.ts';
import { bodyTooLarge, joinChunks } from '../../http/read-body.ts';

/**
 * Reads the body straight from Node's IncomingMessage. Going through the Web Request made
 * @hono/node-server build a full undici Request and a Web stream for every payment (about 7 % of
 * the gateway's CPU in the profile). Past `maxBytes` the rest is drained unread, so the 413 can
 * still be sent on the connection.
 */
export const readIncomingBody: RequestBodyReader = (c, maxBytes) => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  // Not served by node:http (app.request() in tests), or already read: the Web Request has it.
  if (!incoming || incoming.readableDidRead) return readWebRequestBody(c, maxBytes);
  const declared = Number(incoming.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(bodyTooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        stop();
        incoming.resume();
        reject(bodyTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(joinChunks(chunks, total));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const stop = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
  });
};
