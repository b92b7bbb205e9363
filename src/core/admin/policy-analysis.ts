import { policyHash } from '../policy/hash.ts';
import { parsePolicy, type PolicyParseResult } from '../policy/parse.ts';
import type { Policy } from '../policy/schema.ts';
import { diffPolicies, type PolicyDiff } from './policy-diff.ts';

/** A policy document as the admin API answers about it: parsed and validated, and when valid its hash and its diff from the running policy. */
export type PolicyAnalysis =
  | Exclude<PolicyParseResult, { ok: true }>
  | { ok: true; policy: Policy; hash: string; diff: PolicyDiff };

/**
 * Everything the admin API computes from a posted document that grows with its size, in one call,
 * so that a runtime can run it away from the requests it serves (Node: a worker thread).
 */
export async function analysePolicy(text: string, running: Policy): Promise<PolicyAnalysis> {
  const result = parsePolicy(text);
  if (!result.ok) return result;
  return {
    ok: true,
    policy: result.policy,
    hash: await policyHash(result.policy),
    diff: diffPolicies(running, result.policy),
  };
}
