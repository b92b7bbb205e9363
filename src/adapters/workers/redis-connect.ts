import { connect } from 'cloudflare:sockets';
import { connectResp, type RespClient } from './resp-client.ts';

/**
 * Opens a RESP connection from a `redis://[:password@]host[:port]` or `rediss://` URL over
 * cloudflare:sockets. On a Redis Cluster the URL may name any node (one MOVED is followed).
 */
export function connectRedis(url: string, timeoutMs = 250): Promise<RespClient> {
  return connectResp(
    url,
    (hostname, port, tls) => {
      const socket = connect({ hostname, port }, { secureTransport: tls ? 'on' : 'off' });
      return { readable: socket.readable, writable: socket.writable, close: () => socket.close() };
    },
    timeoutMs,
  );
}
