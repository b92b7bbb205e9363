// Test policies, validated as paypath validates them; an invalid one fails the test that wrote it.
import { parsePolicy, validatePolicyObject } from '../../src/core/policy/parse.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import type { PolicyParseResult } from '../../src/core/policy/parse.ts';

function valid(result: PolicyParseResult): Policy {
  if (!result.ok) throw new Error(`test policy invalid: ${JSON.stringify(result.issues)}`);
  return result.policy;
}

/** A policy from YAML (or JSON) text. */
export function policyFrom(yaml: string): Policy {
  return valid(parsePolicy(yaml));
}

/** A policy from an object, defaults filled in. */
export function policyFromObject(input: unknown): Policy {
  return valid(validatePolicyObject(input));
}

/** The smallest valid policy: one path, one payments route. */
export const MINIMAL_POLICY_YAML = `version: 1
paths:
  - id: a
    upstream: https://pay.example
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [a]
`;
