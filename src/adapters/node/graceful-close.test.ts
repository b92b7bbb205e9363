import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { gracefulClose } from './graceful-close.ts';
import { within } from '../../../test/support/poll.ts';

const servers: Server[] = [];
const agents: Agent[] = [];
afterEach(() => {
  for (const agent of agents.splice(0)) agent.destroy();
  for (const server of servers.splice(0)) server.closeAllConnections();
});

/** A server whose answers wait until the test releases them. */
async function heldServer() {
  const held: ServerResponse[] = [];
  const arrived: (() => void)[] = [];
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.url === '/now') return void res.end('now');
    held.push(res);
    arrived.shift()?.();
  });
  const closing = gracefulClose(server); // before listen: it must see every request
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true });
  agents.push(agent);
  const get = (path: string) =>
    new Promise<{ response: IncomingMessage; body: string; socket: Socket }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.once('end', () => resolve({ response, body, socket: req.socket as Socket }));
      });
      req.once('error', reject);
      req.end();
    });
  const nextArrival = () => new Promise<void>((resolve) => arrived.push(resolve));
  /** Opens another connection and leaves it idle; `closed` resolves when the server closes it. */
  const idleConnection = async () => {
    const { socket } = await get('/now');
    return { closed: new Promise<void>((resolve) => socket.once('close', () => resolve())) };
  };
  return { closing, held, get, nextArrival, idleConnection, port };
}

// Drains that should end by themselves get a minute: when one does not, the test's own timeout
// fails it.
describe('gracefulClose', () => {
  it('lets a request in flight finish, with Connection: close, and ends when it is answered', async () => {
    const { closing, held, get, nextArrival, idleConnection } = await heldServer();
    const arrival = nextArrival();
    const answer = get('/slow');
    await arrival;
    expect(closing.inFlight).toBe(1);
    const idle = await idleConnection();
    let settled = false;
    const drained = closing.drain(60_000).finally(() => (settled = true));
    // The drain closes idle connections at once: by then it would have cut the one in flight too.
    await within('the drain closing the idle connection', idle.closed, 5_000);
    expect(held[0]!.socket?.destroyed).toBe(false);
    expect(settled).toBe(false);
    held[0]!.end('done');
    const { response, body } = await answer;
    expect(body).toBe('done');
    expect(response.headers.connection).toBe('close');
    expect(await drained).toEqual({ cut: 0 });
  });

  it('refuses new connections and closes idle ones once draining', async () => {
    const { closing, held, get, nextArrival, idleConnection, port } = await heldServer();
    const arrival = nextArrival();
    const answer = get('/slow');
    await arrival;
    const idle = await idleConnection(); // a second connection, left idle with keep-alive
    const drained = closing.drain(60_000);
    await idle.closed;
    const refused = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/now', agent: false }, () =>
        resolve('answered'),
      );
      req.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      req.end();
    });
    expect(refused).toBe('ECONNREFUSED');
    held[0]!.end('done');
    expect((await answer).body).toBe('done');
    expect(await drained).toEqual({ cut: 0 });
  });

  it('closes a connection whose answer had started before the drain, once that answer is done', async () => {
    const { closing, held, get, nextArrival, idleConnection } = await heldServer();
    const arrival = nextArrival();
    const answer = get('/slow');
    await arrival;
    held[0]!.writeHead(200).write('part '); // headers out, keep-alive announced
    const idle = await idleConnection();
    let settled = false;
    const drained = closing.drain(60_000).finally(() => (settled = true));
    // The drain closes idle connections at once: by then it would have cut the one answering too.
    await within('the drain closing the idle connection', idle.closed, 5_000);
    expect(held[0]!.socket?.destroyed).toBe(false);
    expect(settled).toBe(false);
    held[0]!.end('rest');
    expect((await answer).body).toBe('part rest');
    expect(await drained).toEqual({ cut: 0 });
  });

  it('cuts what is still unanswered when the drain times out, and says how many', async () => {
    const { closing, get, nextArrival } = await heldServer();
    const arrival = nextArrival();
    const answer = get('/slow').then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    await arrival;
    expect(await closing.drain(100)).toEqual({ cut: 1 });
    expect(await answer).toBe('ECONNRESET');
  });
});
