import * as z from 'zod';
import { filePath, id, positiveMs, resolverAddress, upstreamUrl } from './schema-fields.ts';
import { ROUTE_CLASSES } from './route-schema.ts';

export const GRADES = ['mirror', 'hot', 'warm', 'cold'] as const;

export const BudgetSchema = z
  .strictObject({
    requestsPerMonth: z
      .int()
      .min(1)
      .optional()
      .describe('Requests this path may carry per calendar month (UTC). Default: no limit.'),
    bytesPerMonth: z
      .int()
      .min(1)
      .optional()
      .describe(
        'Request and response bytes this path may carry per calendar month (UTC). Default: no limit.',
      ),
    overBudgetClasses: z
      .array(z.enum(ROUTE_CLASSES))
      .default(['payment', 'capture', 'refund'])
      .describe(
        'Route classes the path still serves once over budget. Default: [payment, capture, refund].',
      ),
    webhooks: z
      .array(upstreamUrl)
      .default([])
      .describe(
        'URLs notified (POST JSON) when usage reaches 80 % and 100 % of a limit. Default: [].',
      ),
  })
  .refine((b) => b.requestsPerMonth !== undefined || b.bytesPerMonth !== undefined, {
    message: 'expected requestsPerMonth or bytesPerMonth',
  });

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

export const PathTlsSchema = z
  .strictObject({
    ca: filePath
      .optional()
      .describe(
        "PEM file of the CA(s) trusted for this upstream. Default: the system's trusted CAs.",
      ),
    cert: filePath
      .optional()
      .describe('PEM client certificate for mTLS (needs key). Default: none.'),
    key: filePath
      .optional()
      .describe(
        'PEM private key of the client certificate; the file must have mode 0600. Default: none.',
      ),
    servername: z
      .string()
      .min(1)
      .optional()
      .describe("TLS server name (SNI) to send and verify. Default: the upstream's host name."),
    minVersion: z
      .enum(TLS_VERSIONS)
      .default('TLSv1.2')
      .describe('Oldest TLS version accepted: TLSv1.2 | TLSv1.3. Default: TLSv1.2.'),
  })
  .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
    message: 'expected both cert and key (mTLS), or neither',
  });

export const PathSchema = z.strictObject({
  id: id.describe('Unique path id, e.g. kt-fiber.'),
  upstream: upstreamUrl.describe('Base URL of the processor as reached over this path.'),
  bind: z
    .union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' })
    .optional()
    .describe(
      "Local source address of this carrier's interface (exclusive with interface). The kernel picks the outgoing interface from its routing rules, not from this address: give each carrier its own routing table (docs/store-box.md, `paypath doctor`). Default: none (the OS chooses).",
    ),
  interface: z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'expected a network interface name such as wwan0')
    .optional()
    .describe(
      "This carrier's network interface (exclusive with bind); its current address is the source address and is followed when it changes (an LTE link's changes on every reconnect). While it has none, attempts on the path are not sent. Default: none.",
    ),
  gateway: z
    .union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' })
    .optional()
    .describe(
      "Next hop of this carrier (its router), for the per-carrier routing table that `paypath doctor` prints and `routing.manage` keeps. Default: found in the box's routes for the interface; none on a point-to-point link.",
    ),
  dns: z
    .array(resolverAddress)
    .min(1)
    .max(8)
    .optional()
    .describe(
      "This carrier's DNS resolvers, asked (from the path's bind address, or its interface's current address) for the upstream's host name. Default: the system's resolvers (/etc/resolv.conf), asked from that address. Answers are cached for their TTL (at least 1 s, at most 300 s), refreshed ahead of expiry, and the last good one is kept for up to 24 h while the resolvers fail.",
    ),
  grade: z
    .enum(GRADES)
    .default('hot')
    .describe('How ready the path is: mirror | hot | warm | cold. Default: hot.'),
  cost: z
    .number()
    .min(0)
    .default(0)
    .describe('Relative cost; a metered LTE link costs more. Default: 0.'),
  shareRisk: z
    .array(id)
    .default([])
    .describe(
      'Risk tags (same exchange building, same conduit); paths sharing one count once for redundancy. Default: [].',
    ),
  connectTimeoutMs: positiveMs(60_000)
    .default(1_000)
    .describe('TCP (and TLS) connect timeout on this path, in ms. Default: 1000.'),
  connectAttemptDelayMs: z
    .int()
    .min(10)
    .max(2_000)
    .default(250)
    .describe(
      "Happy Eyeballs (RFC 8305's connection attempt delay) on an `interface` path whose interface has both an IPv4 and an IPv6 address and whose upstream is a host name: a new connection tries IPv6 first and, after this delay (at once if IPv6 fails), IPv4 beside it, each from the interface's address of that family; the first connected carries the request. When IPv4 wins so, it goes first for the next 10 minutes' connections. In ms, 10 to 2000. Default: 250.",
    ),
  budget: BudgetSchema.optional().describe(
    'Monthly usage budget of a metered path (e.g. LTE). Default: none (unmetered).',
  ),
  tls: PathTlsSchema.optional().describe(
    'TLS settings for an https upstream on this path. Default: system CAs, TLS 1.2 or newer, no client certificate.',
  ),
});
