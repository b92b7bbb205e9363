// Runs inside one of a bed's network namespaces (see netns-bed.ts): listens on a Unix socket (the
// file system is shared with the test's own namespace) and forwards each connection to host:port
// inside this namespace. So a test reaches a server in the bed without any IP link from its own
// namespace, and no such link can ever become a route to the processor.
// Usage: node netns-portal.ts SOCKET_PATH HOST PORT. Prints "ready" once listening; exits when its
// stdin closes (the test that started it is gone) or on SIGTERM.
import { connect, createServer } from 'node:net';
import { rmSync } from 'node:fs';

const [socketPath, host, portText] = process.argv.slice(2);
if (!socketPath || !host || !portText) {
  console.error('usage: netns-portal.ts SOCKET_PATH HOST PORT');
  process.exit(2);
}
const port = Number(portText);
rmSync(socketPath, { force: true });
const server = createServer((client) => {
  const upstream = connect({ host, port });
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.listen(socketPath, () => console.log('ready'));
const stop = () => {
  server.close();
  rmSync(socketPath, { force: true });
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
