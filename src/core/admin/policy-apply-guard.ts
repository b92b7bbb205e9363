import { canonicalJson } from '../policy/hash.ts';
import type { PolicyIssue } from '../policy/parse.ts';
import type { Policy } from '../policy/schema.ts';
import type { PolicySource } from './policy-store.ts';
import { disallowedUpstreams, effectiveAllowlist } from './upstream-allowlist.ts';

/**
 * Problems that keep `candidate` from being applied (beyond schema validation): what only the
 * policy file may change (`trusted` is the policy last loaded from it), and upstreams outside the
 * allowlist.
 */
export function policyGuardIssues(
  candidate: Policy,
  trusted: Policy,
  source: Exclude<PolicySource, 'startup'>,
): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const allowlist = effectiveAllowlist(source === 'file' ? candidate : trusted);
  if (source !== 'file') issues.push(...fileOnlyIssues(candidate, trusted));
  for (const bad of disallowedUpstreams(candidate, allowlist)) {
    issues.push({
      path: bad.field,
      message: `upstream ${bad.url} is not in admin.upstreamAllowlist (${allowlist.join(', ')})`,
    });
  }
  return issues;
}

/** What `candidate`, applied other than from the policy file, changes that only the file may. */
function fileOnlyIssues(candidate: Policy, trusted: Policy): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  if (canonicalJson(candidate.admin) !== canonicalJson(trusted.admin)) {
    issues.push({
      path: 'admin',
      message: 'the admin block (upstream allowlist) can only be changed in the policy file',
    });
  }
  // Routing tables change the host itself (with routing.manage): only someone who can edit the file may.
  if (canonicalJson(candidate.routing) !== canonicalJson(trusted.routing)) {
    issues.push({
      path: 'routing',
      message:
        'the routing block (routing tables paypath keeps on the host) can only be changed in the policy file',
    });
  }
  if (trusted.routing.manage) {
    const fileGateways = new Map(trusted.paths.map((p) => [p.id, p.gateway]));
    candidate.paths.forEach((path, i) => {
      if (path.gateway !== fileGateways.get(path.id)) {
        issues.push({
          path: `paths[${i}].gateway`,
          message:
            "with routing.manage, a path's gateway (a route paypath adds on the host) can only be changed in the policy file",
        });
      }
    });
  }
  const known = new Set(webhookUrls(trusted));
  for (const { field, url } of webhookFields(candidate)) {
    if (!known.has(url))
      issues.push({
        path: field,
        message: `webhook ${url} is not in the policy file; webhook URLs can only be added there`,
      });
  }
  return issues;
}

/** Every webhook URL of a policy with its field path: outbound requests, so guarded like upstreams. */
function webhookFields(policy: Policy): { field: string; url: string }[] {
  const out = policy.redundancy.webhooks.map((url, i) => ({
    field: `redundancy.webhooks[${i}]`,
    url,
  }));
  policy.paths.forEach((path, i) =>
    path.budget?.webhooks.forEach((url, j) =>
      out.push({ field: `paths[${i}].budget.webhooks[${j}]`, url }),
    ),
  );
  return out;
}

function webhookUrls(policy: Policy): string[] {
  return webhookFields(policy).map((w) => w.url);
}
