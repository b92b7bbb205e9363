import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';

// `paypath validate` on generated files: every file is either valid (exit 0) or refused with
// exit 2 and a message naming the file; never a crash (exit 1) or an exception.

const dir = mkdtempSync(join(tmpdir(), 'paypath-cli-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fragment = fc.constantFrom(
  'version: 1\n',
  'version: 2\n',
  'paths:\n',
  '  - id: kt-fiber\n',
  '    upstream: https://pay.example\n',
  '    upstream: ftp://x\n',
  'routes:\n',
  '  - id: payments\n',
  '    match: { method: POST, path: /v1/payments }\n',
  '    paths: [kt-fiber]\n',
  '    tls: { key: /nonexistent }\n',
  'merchants: { mode: hmac }\n',
  'limits: { maxJsonDepth: 0 }\n',
  '&a [*a]\n',
  '*b\n',
  ': :\n',
  '\t\n',
  '"\n',
);

describe('paypath validate fuzzing', () => {
  it('exits 0 or 2 for any file content', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const logs = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.array(fragment, { maxLength: 16 }).map((parts) => parts.join('')),
            fc.string({ maxLength: 200 }),
          ),
          async (text) => {
            const file = join(dir, `p${n++}.yaml`);
            writeFileSync(file, text);
            errors.mockClear();
            const status = await main(['validate', file]);
            expect([0, 2]).toContain(status);
            if (status === 2) expect(errors.mock.calls.flat().join('\n')).toContain(file);
          },
        ),
        { numRuns: 1_000 },
      );
    } finally {
      errors.mockRestore();
      logs.mockRestore();
    }
  });
});
