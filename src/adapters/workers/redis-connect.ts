import { connect } from 'cloudflare:sockets';
import { RespClient } from './resp-client.ts';

/** Opens a RESP connection from a `redis://[:password@]host[:port]` or `rediss://` URL over cloudflare:sockets. */
export async function connectRedis(url: string, timeoutMs = 250): Promise<RespClient> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error(`REDIS_URL must be redis:// or rediss://, got ${parsed.protocol}`);
  const socket = connect(
    { hostname: parsed.hostname, port: Number(parsed.port || 6379) },
    { secureTransport: parsed.protocol === 'rediss:' ? 'on' : 'off' },
  );
  const client = new RespClient({ readable: socket.readable, writable: socket.writable, close: () => socket.close() }, { timeoutMs });
  const password = decodeURIComponent(parsed.password);
  if (password) {
    const user = decodeURIComponent(parsed.username);
    await client.command('AUTH', ...(user ? [user, password] : [password]));
  }
  return client;
}
