import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parse } from 'yaml';
import { auditCommand } from '../src/cli/audit-command.ts';
import { drillCommand } from '../src/cli/drill-command.ts';
import { GatewayAnswerError } from '../src/cli/gateway-client.ts';
import { policyCommand } from '../src/cli/policy-command.ts';
import { statusCommand } from '../src/cli/status-command.ts';
import { OpsStack, TOKENS } from './support/ops-harness.ts';

describe('paypath status | drill | policy against a running gateway', () => {
  // A fresh gateway per test: revision numbers, drill ids and the audit log start anew, whatever ran
  // before.
  let stack: OpsStack;
  beforeEach(async () => {
    stack = await OpsStack.start();
  });
  afterEach(async () => stack?.stop());

  const run = async (
    command: (args: string[], print: (t: string) => void) => Promise<number>,
    args: string[],
  ) => {
    const out: string[] = [];
    const code = await command(
      [...args, '--url', stack.gateway.url, '--token', TOKENS.operator],
      (t) => out.push(t),
    );
    return { code, text: out.join('\n') };
  };

  it('status prints redundancy, policy revision and a path table', async () => {
    const { code, text } = await run(statusCommand, []);
    expect(code).toBe(0);
    expect(text).toMatch(/^redundancy N\+2/m);
    expect(text).toMatch(/revision 1, hash [0-9a-f]{16}/);
    expect(text).toMatch(/^PATH\s+STATE\s+GRADE/m);
    expect(text).toMatch(/^kt-fiber\s+closed\s+hot/m);
  });

  it('policy diff, apply, history and rollback print tables; errors carry the code and field path', async () => {
    const file = join(stack.dir, 'edit.yaml');
    const policy = stack.policy();
    policy.paths[2]!.grade = 'cold';
    await writeFile(file, stringify(policy));

    const diff = await run(policyCommand, ['diff', file]);
    expect(diff.text).toMatch(/^paths\[id=lgu-lte\]\.grade\s+changed\s+"warm"\s+"cold"$/m);

    const apply = await run(policyCommand, ['apply', file]);
    expect(apply.code).toBe(0);
    expect(apply.text).toMatch(/^applied as revision 2/);

    const history = await run(policyCommand, ['history']);
    expect(history.text).toMatch(/^2 \*\s+[0-9a-f]{16}\s+\S+\s+api\s+alice/m);
    expect(history.text).toMatch(/^1\s+[0-9a-f]{16}\s+\S+\s+startup/m);

    const rollback = await run(policyCommand, ['rollback', '1']);
    expect(rollback.text).toMatch(/^revision 1 restored as revision 3/);

    policy.routes[0]!.paths = ['kt-fibre'];
    await writeFile(file, stringify(policy));
    const error = await run(policyCommand, ['apply', file]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayAnswerError);
    expect((error as Error).message).toMatch(/400 policy_invalid/);
    expect((error as Error).message).toMatch(/routes\[0\]\.paths\[0\]: unknown path "kt-fibre"/);
  });

  it('drill --wait prints the result', async () => {
    const { code, text } = await run(drillCommand, ['skt-fiber', '--duration', '300', '--wait']);
    expect(code).toBe(0);
    expect(text).toMatch(/^drill-1\s+skt-fiber\s+passed/m);
  });

  it('drill stop ends the running drill, and says when none runs', async () => {
    const started = await run(drillCommand, ['skt-fiber', '--duration', '600000']);
    expect(started.text).toMatch(/^drill-1\s+skt-fiber\s+running/m);
    const stop = await run(drillCommand, ['stop']);
    expect(stop.text).toBe('drill-1 stopped');
    expect(stack.gateway.drills.running()).toBeNull();
    expect((await run(drillCommand, ['stop'])).text).toBe('no drill was running');
  });

  it('policy show prints the running policy as YAML that parses back to it', async () => {
    const { code, text } = await run(policyCommand, ['show']);
    expect(code).toBe(0);
    expect(text).toMatch(/^# revision \d+, hash [0-9a-f]{16}, applied \S+ \(\w+, by \S+\)$/m);
    const shown = parse(text) as { paths: { id: string }[]; routes: { id: string }[] };
    expect(shown).toEqual(stack.gateway.gateway.policy);
  });

  it('audit prints the newest admin actions first, up to --limit', async () => {
    // Three records of its own: a policy apply, then a drill started and stopped.
    const file = join(stack.dir, 'audit-edit.yaml');
    const policy = stack.policy();
    policy.paths[2]!.grade = 'cold';
    await writeFile(file, stringify(policy));
    expect((await run(policyCommand, ['apply', file])).code).toBe(0);
    await run(drillCommand, ['skt-fiber', '--duration', '600000']);
    expect((await run(drillCommand, ['stop'])).text).toBe('drill-1 stopped');

    const { code, text } = await run(auditCommand, ['--limit', '2']);
    expect(code).toBe(0);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+OUTCOME\s+REVISION\s+DETAILS$/);
    expect(lines).toHaveLength(2 + 2);
    // The stop: its drill.end record is the newest, the start before it; the apply is past the limit.
    expect(lines[2]).toMatch(/^\S+\s+alice\s+drill\.end\s+ok\s+-\s+\{"id":"drill-1"/);
    expect(lines[3]).toMatch(/^\S+\s+alice\s+drill\.start\s+ok\s/);
    await expect(run(auditCommand, ['--limit', '0'])).rejects.toThrow(
      /--limit must be a whole number from 1 to 1000/,
    );
  });

  it('drill with several paths isolates them together, and status shows which path carried a passing drill', async () => {
    const { code, text } = await run(drillCommand, [
      'kt-fiber',
      'skt-fiber',
      '--duration',
      '300',
      '--wait',
    ]);
    expect(code).toBe(0);
    expect(text).toMatch(/^drill-1\s+kt-fiber,skt-fiber\s+passed/m);
    const status = await run(statusCommand, []);
    expect(status.text).toMatch(
      /^PATH\s+STATE\s+GRADE\s+EGRESS\s+REQUESTS\s+FAILURES\s+P50 MS\s+P99 MS\s+LAST PASSING DRILL\s+LAST ERROR$/m,
    );
  });
});
