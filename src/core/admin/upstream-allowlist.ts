import type { Policy } from '../policy/schema.ts';

/**
 * The SSRF guard: where a policy may send payments. Entries are origins (`https://pay.example`,
 * any base path on it) or URL prefixes ending in `/` (`https://pay.example/v2/`).
 */
export function upstreamAllowed(upstream: string, allowlist: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    return false;
  }
  const normalised = url.href.endsWith('/') ? url.href : `${url.href}/`;
  return allowlist.some((entry) =>
    entry.endsWith('/') ? normalised.startsWith(entry) : url.origin === entry,
  );
}

/** The allowlist a trusted (file-loaded) policy sets: its own list, or, when empty, the origins of its paths. */
export function effectiveAllowlist(trusted: Policy): string[] {
  if (trusted.admin.upstreamAllowlist.length > 0) return [...trusted.admin.upstreamAllowlist];
  return [...new Set(trusted.paths.map((p) => new URL(p.upstream).origin))];
}

/** Upstreams of `policy` that the allowlist does not admit, with their field paths. */
export function disallowedUpstreams(
  policy: Policy,
  allowlist: readonly string[],
): { field: string; url: string }[] {
  const out: { field: string; url: string }[] = [];
  policy.paths.forEach((path, i) => {
    if (!upstreamAllowed(path.upstream, allowlist))
      out.push({ field: `paths[${i}].upstream`, url: path.upstream });
  });
  return out;
}
