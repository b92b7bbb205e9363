import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadQueueKeys } from './queue-keys.ts';
import { SecretFileError } from './secret-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'paypath-queue-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');

function keyFile(text: string, mode = 0o600): string {
  const file = join(dir, `keys-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

describe('loadQueueKeys', () => {
  it('reads the current key, then previous ones, from a file of mode 0600 (comments and blank lines skipped)', () => {
    const keys = loadQueueKeys({
      file: keyFile(`# current\n${key(1)}\n\n# previous, until the queue has drained\n${key(2)}\n`),
      env: key(9),
    });
    expect(keys).toEqual([new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]);
  });

  it('reads PAYPATH_QUEUE_KEY when no file is given, and nothing when neither is', () => {
    expect(loadQueueKeys({ env: `${key(3)}, ${key(4)}` })).toEqual([
      new Uint8Array(32).fill(3),
      new Uint8Array(32).fill(4),
    ]);
    expect(loadQueueKeys({})).toEqual([]);
  });

  it('refuses a file others may read, an empty one, and a key that is not 32 bytes, never echoing a key', () => {
    expect(() => loadQueueKeys({ file: keyFile(key(1), 0o644) })).toThrow(SecretFileError);
    expect(() => loadQueueKeys({ file: keyFile('# nothing here\n') })).toThrow(/holds no key/);
    const short = Buffer.alloc(16, 5).toString('base64');
    expect(() => loadQueueKeys({ env: `${key(1)} ${short}` })).toThrow(
      /PAYPATH_QUEUE_KEY: key 2: .*32 bytes/,
    );
    let message = '';
    try {
      loadQueueKeys({ env: short });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/32 bytes/);
    expect(message).not.toContain(short);
  });
});
