import * as z from 'zod';

// Field types shared by the policy schema's sections (schema.ts).

export const id = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}$/,
    'expected an id of lowercase letters, digits and "-" (at most 63 characters)',
  );

export const positiveMs = (max: number) => z.int().min(1).max(max);

export const upstreamUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.search === '' &&
      url.hash === ''
    );
  } catch {
    return false;
  }
}, 'expected an http(s) base URL without query or fragment, e.g. https://pay.processor.example');

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();
/** A DNS resolver: `192.0.2.53`, `2001:db8::53`, or with a port, `192.0.2.53:5353`, `[2001:db8::53]:5353`. */
export const resolverAddress = z.string().refine((value) => {
  const withPort = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (withPort) {
    const port = Number(withPort[3]);
    if (port < 1 || port > 65_535) return false;
    return withPort[1] !== undefined
      ? ipv6.safeParse(withPort[1]).success
      : ipv4.safeParse(withPort[2]).success;
  }
  return ipv4.safeParse(value).success || ipv6.safeParse(value).success;
}, 'expected the IPv4 or IPv6 address of a DNS resolver, optionally with a port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:5353)');

export const filePath = z.string().min(1, 'expected a file path');

/** `90s`, `30m`, `6h`, `1d` (or a number of ms); parsed by parseDuration. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;
const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration written as `90s`, `30m`, `6h`, `1d` or a number of ms. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_PATTERN.exec(value);
  if (!match) return Number.NaN;
  return Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS];
}

export const duration = (minMs: number) =>
  z
    .union([
      z.int(),
      z.string().regex(DURATION_PATTERN, 'expected a duration such as 90s, 30m, 6h or 1d'),
    ])
    .refine((value) => parseDuration(value) >= minMs, `expected at least ${minMs} ms`);

/** An origin (`https://pay.example`) or a URL prefix ending in `/` (`https://pay.example/v2/`). */
export const allowlistEntry = z.string().refine((value) => {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
      return false;
    return value === url.origin || (value.endsWith('/') && value === url.href);
  } catch {
    return false;
  }
}, 'expected an origin (https://pay.example) or a URL prefix ending in "/" (https://pay.example/v2/)');
