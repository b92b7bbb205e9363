import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_MERCHANT_ID, DEMO_MERCHANT_SECRET } from '../src/demo/demo-merchant.ts';
import { carrierCommands, paymentCommand } from '../src/demo/instructions.ts';
import { OpsStack } from './support/ops-harness.ts';

/** Runs printed commands as a person pasting them would: in a POSIX shell, from the repository. */
function shell(script: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'sh',
      ['-c', script],
      {
        cwd: new URL('..', import.meta.url).pathname,
        env: { ...process.env, ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** Every carrier a block of commands cuts is restored (`/up`) after its cut. */
function unrestoredCuts(text: string): string[] {
  const down = new Set<string>();
  for (const [, id, mode] of text.matchAll(/\/carriers\/([a-z0-9-]+)\/([a-z]+(?::\d+)?)/g)) {
    if (mode === 'up') down.delete(id!);
    else down.add(id!);
  }
  return [...down];
}

describe("the demo's printed commands", () => {
  const stacks: OpsStack[] = [];
  afterAll(async () => {
    for (const stack of stacks) await stack.stop();
  });

  it('the payment command, run as printed twice, makes two payments and no duplicate charge', async () => {
    const stack = await OpsStack.start();
    stacks.push(stack);
    const command = paymentCommand(stack.gateway.url, false);
    const outputs = [await shell(command), await shell(command)];
    for (const output of outputs) expect(output).toMatch(/^HTTP\/1\.1 201/);
    expect(stack.processor.charges).toHaveLength(2);
    expect(new Set(stack.processor.charges.map((c) => c.reference)).size).toBe(2);
    expect(stack.processor.duplicateCharges).toBe(0);
  });

  it(
    'the signed payment command, run twice, is accepted both times, without a duplicate charge',
    { timeout: 60_000 },
    async () => {
      process.env.DEMO_COMMANDS_MERCHANT_KEYS = JSON.stringify({
        [DEMO_MERCHANT_ID]: DEMO_MERCHANT_SECRET,
      });
      const stack = await OpsStack.start({
        edit: (policy) => (policy.merchants = { keys: { env: 'DEMO_COMMANDS_MERCHANT_KEYS' } }),
      });
      stacks.push(stack);
      const command = paymentCommand(stack.gateway.url, true);
      for (let i = 0; i < 2; i++) expect(await shell(command)).toMatch(/^HTTP\/1\.1 201/);
      expect(stack.processor.charges).toHaveLength(2);
      expect(stack.processor.duplicateCharges).toBe(0);
    },
  );

  it('restore every carrier they cut, in the demo and in the README tour', () => {
    const printed = carrierCommands('http://127.0.0.1:8788', 'kt-fiber', 'skt-fiber');
    expect(printed).toMatch(/kt-fiber\/blackhole/);
    expect(printed).toMatch(/skt-fiber\/reset/);
    expect(unrestoredCuts(printed)).toEqual([]);
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const tour = readme.slice(
      readme.indexOf('## A short tour of the demo'),
      readme.indexOf('\n## ', readme.indexOf('## A short tour of the demo') + 1),
    );
    expect(tour).toMatch(/carriers\/kt-fiber\/blackhole/);
    expect(unrestoredCuts(tour)).toEqual([]);
  });
});
