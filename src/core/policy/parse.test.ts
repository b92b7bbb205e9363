import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policyJsonSchema } from './json-schema.ts';
import { formatFieldPath, parsePolicy, POLICY_LIMITS, validatePolicyObject } from './parse.ts';
import { policyHash } from './hash.ts';
import { MINIMAL_POLICY_YAML as MINIMAL } from '../../../test/support/policy.ts';

describe('parsePolicy', () => {
  it('fills documented defaults', () => {
    const result = parsePolicy(MINIMAL);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.policy.paths[0]).toMatchObject({
      grade: 'hot',
      cost: 0,
      shareRisk: [],
      connectTimeoutMs: 1000,
    });
    expect(result.policy.breaker).toEqual({
      windowMs: 10000,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      consecutiveFailures: 5,
      resetTimeoutMs: 5000,
    });
    expect(result.policy.routes[0]).toMatchObject({
      class: 'other',
      deadlineMs: 8000,
      whenAllDown: 'reject',
      idempotency: { header: 'Idempotency-Key', upstreamHonors: false },
    });
  });

  it('reports every issue with a field path and a position', () => {
    const result = parsePolicy(MINIMAL.replace('paths: [a]', 'paths: [a, a, b]'));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: 'routes[0].paths[1]', message: 'path "a" is listed twice', line: 8, column: 16 },
      {
        path: 'routes[0].paths[2]',
        message: 'unknown path "b" (expected one of: a)',
        line: 8,
        column: 19,
      },
    ]);
  });

  it('takes a drill of one path or of several, and names what is wrong with either', () => {
    const withDrills = (drills: string) =>
      parsePolicy(
        `${MINIMAL}  - id: backup\n    match: { method: POST, path: /v1/backup }\n    paths: [a]\ndrills: ${drills}\n`,
      );
    const ok = withDrills(
      '[{ path: a, every: 6h, durationMs: 1000 }, { paths: [a], every: 1d, durationMs: 1000 }]',
    );
    if (!ok.ok) throw new Error(JSON.stringify(ok.issues));
    expect(ok.policy.drills[1]!.paths).toEqual(['a']);
    const bad = withDrills(
      '[{ paths: [a, a, b], every: 6h, durationMs: 1000 }, { path: a, paths: [a], every: 6h, durationMs: 1000 }]',
    );
    if (bad.ok) throw new Error('parsed');
    expect(bad.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'drills[1]: expected exactly one of path or paths',
    ]);
    const unknown = withDrills('[{ paths: [a, a, b], every: 6h, durationMs: 1000 }]');
    if (unknown.ok) throw new Error('parsed');
    expect(unknown.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'drills[0].paths[1]: path "a" is listed twice',
      'drills[0].paths[2]: unknown path "b" (expected one of: a)',
    ]);
  });

  it('defaults the every-path-down window to 3 s and wants it longer than a probe may take', () => {
    const result = parsePolicy(MINIMAL);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.policy.redundancy.downAfterMs).toBe(3000);
    const tooShort = parsePolicy(
      MINIMAL + 'probe: { timeoutMs: 800 }\nredundancy: { downAfterMs: 800 }\n',
    );
    expect(tooShort.ok ? [] : tooShort.issues.map((i) => [i.path, i.message])).toEqual([
      [
        'redundancy.downAfterMs',
        'downAfterMs (800) must be longer than probe.timeoutMs (800): a probe may take that long to answer',
      ],
    ]);
    expect(
      parsePolicy(MINIMAL + 'probe: { enabled: false }\nredundancy: { downAfterMs: 100 }\n').ok,
    ).toBe(true);
  });

  it('flags a route that an earlier route shadows', () => {
    const text =
      MINIMAL +
      `  - id: later
    match: { method: POST, path: /v1/payments }
    paths: [a]
`;
    const result = parsePolicy(text);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(['routes[1].match']);
  });

  it("takes a path's interface or its bind address, not both, and fills the routing defaults", () => {
    const both = parsePolicy(
      MINIMAL.replace(
        'upstream: https://pay.example',
        'upstream: https://pay.example\n    bind: 10.0.3.2\n    interface: wwan0',
      ),
    );
    expect(both.ok ? [] : both.issues).toEqual([
      {
        path: 'paths[0].interface',
        message: 'expected bind or interface, not both (interface follows its current address)',
        line: 6,
        column: 5,
      },
    ]);
    const one = parsePolicy(
      MINIMAL.replace(
        'upstream: https://pay.example',
        'upstream: https://pay.example\n    interface: wwan0\n    gateway: 10.0.3.1',
      ),
    );
    if (!one.ok) throw new Error(JSON.stringify(one.issues));
    expect(one.policy.paths[0]).toMatchObject({ interface: 'wwan0', gateway: '10.0.3.1' });
    expect(one.policy.routing).toEqual({
      egressCheckMs: 5000,
      manage: false,
      tableBase: 100,
      rulePriority: 1000,
    });
    const bad = parsePolicy(
      MINIMAL.replace(
        'upstream: https://pay.example',
        'upstream: https://pay.example\n    interface: "eth0; reboot"',
      ),
    );
    expect(bad.ok ? [] : bad.issues.map((i) => i.message)).toEqual([
      expect.stringContaining('expected a network interface name'),
    ]);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${'b'.repeat(i + 1)}: &${'b'.repeat(i + 1)} [${Array(10)
          .fill(`*${i === 0 ? 'a' : 'b'.repeat(i)}`)
          .join(', ')}]`,
      );
    const result = parsePolicy(bomb.join('\n'));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]!.message).toMatch(/alias/i);
  });

  it('validates objects (as the admin API will) without positions', () => {
    const result = validatePolicyObject({ version: 1, paths: [], routes: [] });
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(['paths', 'routes']);
  });

  it("takes a path's resolvers as addresses, with or without a port, and names a bad one", () => {
    const withDns = (list: string) =>
      parsePolicy(
        MINIMAL.replace(
          '    upstream: https://pay.example\n',
          `    upstream: https://pay.example\n    dns: ${list}\n`,
        ),
      );
    const good = withDns('[10.0.1.1, "10.0.1.1:5353", "2001:db8::53", "[2001:db8::53]:5353"]');
    expect(good.ok ? good.policy.paths[0]!.dns : good.issues).toEqual([
      '10.0.1.1',
      '10.0.1.1:5353',
      '2001:db8::53',
      '[2001:db8::53]:5353',
    ]);
    const bad = withDns('[10.0.1.1, dns.example, "10.0.1.1:70000", "[2001:db8::53]", []]');
    expect(bad.ok ? [] : bad.issues.map((i) => i.path)).toEqual([
      'paths[0].dns[1]',
      'paths[0].dns[2]',
      'paths[0].dns[3]',
      'paths[0].dns[4]',
    ]);
    if (!bad.ok) expect(bad.issues[0]!.message).toMatch(/address of a DNS resolver/);
  });

  it('formats field paths as in the docs', () => {
    expect(formatFieldPath(['routes', 1, 'paths', 2])).toBe('routes[1].paths[2]');
  });

  it('hashes equal policies alike whatever their key order', async () => {
    const a = parsePolicy(MINIMAL);
    const b = parsePolicy(
      MINIMAL.replace(
        '  - id: a\n    upstream: https://pay.example',
        '  - upstream: https://pay.example\n    id: a',
      ),
    );
    if (!a.ok || !b.ok) throw new Error('fixtures invalid');
    expect(await policyHash(a.policy)).toBe(await policyHash(b.policy));
    const c = parsePolicy(MINIMAL.replace('pay.example', 'pay2.example'));
    if (!c.ok) throw new Error('fixture invalid');
    expect(await policyHash(c.policy)).not.toBe(await policyHash(a.policy));
  });

  it('keeps policies/schema.json in step with the zod schema (run `npm run schema`)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../../policies/schema.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(policyJsonSchema());
  });

  describe('document limits (hostile input is refused before it is parsed)', () => {
    it('refuses more nodes than maxNodes, naming the limit', () => {
      const keys = Array.from({ length: POLICY_LIMITS.maxNodes }, (_, i) => `k${i}: ${i}`).join(
        '\n',
      );
      const result = parsePolicy(keys);
      expect(result).toEqual({
        ok: false,
        limit: { name: 'nodes', max: POLICY_LIMITS.maxNodes },
        issues: [
          {
            path: '',
            message: expect.stringContaining(`more than ${POLICY_LIMITS.maxNodes} nodes`),
          },
        ],
      });
    });

    it('refuses nesting deeper than maxDepth, in flow, block and complex-key form', () => {
      const deep = POLICY_LIMITS.maxDepth + 1;
      const documents = [
        '['.repeat(deep) + ']'.repeat(deep),
        Array.from({ length: deep }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n'),
        `${'- '.repeat(deep)}x`,
        `${'? '.repeat(deep)}x`,
      ];
      for (const text of documents) {
        const result = parsePolicy(text);
        expect(result.ok ? undefined : result.limit, text.slice(0, 40)).toEqual({
          name: 'depth',
          max: POLICY_LIMITS.maxDepth,
        });
      }
    });

    it('reports duplicate keys and non-plain keys with their position', () => {
      const duplicate = parsePolicy(`${MINIMAL}version: 1\n`);
      expect(duplicate.ok ? [] : duplicate.issues).toEqual([
        { path: '', message: 'YAML error: duplicate key "version"', line: 9, column: 1 },
      ]);
      const complex = parsePolicy(`${MINIMAL}[a, b]: 1\n`);
      expect(complex.ok ? [] : complex.issues.map((i) => i.message)).toEqual([
        expect.stringContaining('map keys must be plain values'),
      ]);
    });

    it('lists at most maxIssues problems and says how many more there were', () => {
      const unknown = Array.from(
        { length: POLICY_LIMITS.maxIssues + 50 },
        (_, i) => `extra${i}: 1`,
      ).join('\n');
      const result = parsePolicy(`${MINIMAL}${unknown}\n`);
      if (result.ok) throw new Error('expected issues');
      expect(result.issues).toHaveLength(POLICY_LIMITS.maxIssues + 1);
      expect(result.issues.at(-1)!.message).toBe(
        `and 50 more problems (only the first ${POLICY_LIMITS.maxIssues} are listed)`,
      );
      expect(result.issues[0]).toMatchObject({ path: 'extra0', message: 'unknown field', line: 9 });
    });

    it('accepts every shipped policy well inside the limits', () => {
      for (const file of [
        'default.yaml',
        'examples/store-box.yaml',
        'examples/exactly-once.yaml',
      ]) {
        const text = readFileSync(new URL(`../../../policies/${file}`, import.meta.url), 'utf8');
        expect(parsePolicy(text).ok, file).toBe(true);
      }
    });
  });
});
