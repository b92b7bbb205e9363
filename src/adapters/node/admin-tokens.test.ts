import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAdminTokens } from './admin-tokens.ts';

describe('admin token file', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('loads a 600 file, refuses one readable by group or others, and merges with the environment list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paypath-tokens-'));
    dirs.push(dir);
    const file = join(dir, 'tokens');
    await writeFile(file, 'alice:operator:operator-secret-0123456789\n');
    await chmod(file, 0o600);
    expect(await loadAdminTokens({ file, spec: 'bob:viewer:viewer-secret-0123456789' })).toEqual([
      { name: 'bob', role: 'viewer', token: 'viewer-secret-0123456789' },
      { name: 'alice', role: 'operator', token: 'operator-secret-0123456789' },
    ]);
    await chmod(file, 0o644);
    await expect(loadAdminTokens({ file })).rejects.toThrow(
      /readable by group or others \(mode 644\)/,
    );
    await chmod(file, 0o600);
    await expect(
      loadAdminTokens({ file, spec: 'alice:viewer:viewer-secret-0123456789' }),
    ).rejects.toThrow(/defined twice/);
  });
});
