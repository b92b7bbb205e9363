// A paypath logger whose lines a test reads back: each JSON line as written, blank ones dropped.
import { Writable } from 'node:stream';
import { createLogger } from '../../src/adapters/node/logger.ts';

export function capturedLogger(level = 'info') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}
