/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { OpsStack } from './support/ops-harness.ts';

describe('policy file hot reload', () => {
  // A fresh gateway and file per test: what one test wrote never decides what another waits for.
  let stack: OpsStack;
  beforeEach(async () => {
    stack = await OpsStack.start({ watchPolicy: true });
  });
  afterEach(async () => stack?.stop());

  const status = async () =>
    (await (await fetch(`${stack.gateway.url}/status`)).json()) as Record<string, any>;
  /** Writes the file and waits until the watcher has processed it (its reload reports `done`). */
  const rewrite = async (text: string, done: (body: Record<string, any>) => boolean) => {
    await writeFile(stack.policyFile, text);
    await expect
      .poll(async () => done(await status()), { timeout: 10_000, interval: 50 })
      .toBe(true);
  };

  it('keeps the running policy when the file on disk becomes invalid, and says so in /status and the log', async () => {
    const hash = stack.gateway.gateway.policyHash;
    await rewrite(
      stringify({ ...stack.policy(), routes: [{ ...stack.policy().routes[0], deadlinMs: 10 }] }),
      (b) => b.policyFile.lastError !== null,
    );
    expect(stack.gateway.gateway.policyHash).toBe(hash);
    const body = await status();
    expect(body.policy).toMatchObject({ hash, revision: 1 });
    expect(body.policyFile.lastError.issues).toContainEqual(
      expect.objectContaining({
        path: 'routes[0].deadlinMs',
        message: 'unknown field (did you mean "deadlineMs"?)',
      }),
    );
    expect(
      stack.logLines.some(
        (line) => line.includes('"event":"policy_reload_failed"') && line.includes('deadlinMs'),
      ),
    ).toBe(true);
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/^paypath_policy_file_valid 0$/m);
    // Payments still flow on the kept policy.
    expect((await stack.pay('reload-1')).status).toBe(201);
  });

  it('refuses a file whose upstream is outside its own allowlist', async () => {
    const policy = stack.policy();
    policy.paths[0]!.upstream = 'http://127.0.0.1:9';
    await rewrite(stringify(policy), (b) => b.policyFile.lastError !== null);
    const body = await status();
    expect(body.policy.revision).toBe(1);
    expect(body.policyFile.lastError.issues[0].path).toBe('paths[0].upstream');
  });

  it('applies a valid change as a new revision and clears the error', async () => {
    await rewrite('version: 1\npaths: []\n', (b) => b.policyFile.lastError !== null);
    const policy = stack.policy();
    policy.paths[2]!.grade = 'cold';
    await rewrite(stringify(policy), (b) => b.policy.revision !== 1);
    const body = await status();
    expect(body.policy).toMatchObject({ revision: 2, source: 'file' });
    expect(body.policyFile.lastError).toBeNull();
    expect(body.paths.find((p: { id: string }) => p.id === 'lgu-lte').grade).toBe('cold');
    expect((await stack.pay('reload-2')).status).toBe(201);
  });
});
