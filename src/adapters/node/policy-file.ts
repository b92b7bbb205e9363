import { readFile } from 'node:fs/promises';
import { formatIssue, parsePolicy, type PolicyIssue } from '../../core/policy/parse.ts';
import { policyHash } from '../../core/policy/hash.ts';
import type { Policy } from '../../core/policy/schema.ts';

export class PolicyFileError extends Error {
  readonly file: string;
  readonly issues: PolicyIssue[];
  constructor(file: string, issues: PolicyIssue[]) {
    super(
      `invalid policy ${file}:\n${issues.map((issue) => `  ${formatIssue(issue, file)}`).join('\n')}`,
    );
    this.name = 'PolicyFileError';
    this.file = file;
    this.issues = issues;
  }
}

/** Reads and validates a policy file; throws PolicyFileError naming every problem. */
export async function loadPolicyFile(file: string): Promise<{ policy: Policy; hash: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PolicyFileError(file, [
      {
        path: '',
        message: `cannot read file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      },
    ]);
  }
  const result = parsePolicy(text);
  if (!result.ok) throw new PolicyFileError(file, result.issues);
  return { policy: result.policy, hash: await policyHash(result.policy) };
}
