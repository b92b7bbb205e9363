import { describe, expect, it } from 'vitest';
import { parsePolicy } from './parse.ts';
import { MINIMAL_POLICY_YAML as MINIMAL } from '../../../test/support/policy.ts';

/** A broken policy, and the plain-words explanation its single issue must carry. */
const BROKEN: [string, string, RegExp][] = [
  [
    'unclosed {',
    MINIMAL.replace('/v1/payments }', '/v1/payments'),
    /a "\{" opened above is not closed with "\}"/,
  ],
  [
    'unclosed [',
    MINIMAL.replace('paths: [a]', 'paths: [a'),
    /a "\[" opened above is not closed with "\]"/,
  ],
  [
    'unclosed quote',
    MINIMAL.replace('path: /v1/payments', 'path: "/v1/payments'),
    /a text opened with " is not closed/,
  ],
  [
    'tab indentation',
    MINIMAL.replace('    paths: [a]', '\tpaths: [a]'),
    /indented with a tab: YAML indents with spaces only/,
  ],
  [
    'missing colon',
    MINIMAL.replace('upstream: https', 'upstream https'),
    /no ": " after its field name: write "name: value".*\(the line reads "upstream https:\/\/pay\.example"\)/,
  ],
  [
    'misaligned field',
    MINIMAL.replace('    paths: [a]', '     paths: [a]'),
    /not lined up with the fields before it/,
  ],
  ['two pairs on a line', 'version: 1\nredundancy: alertBelow: 2\n', /holds two "name:" pairs/],
  [
    'reserved first character',
    MINIMAL.replace('id: payments', 'id: @payments'),
    /starts with a character YAML reserves \(@\): put the value in quotes/,
  ],
  ['two documents', `${MINIMAL}---\nversion: 1\n`, /more than one YAML document/],
];

describe('YAML syntax errors in plain words', () => {
  it.each(BROKEN)('%s', (_name, text, expected) => {
    const result = parsePolicy(text);
    if (result.ok) throw new Error('parsed');
    // One issue: the parser's follow-on errors would only mislead.
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]!.message).toMatch(/^YAML syntax error: /);
    expect(result.issues[0]!.message).toMatch(expected);
    expect(result.issues[0]!.line).toBeGreaterThan(0);
  });
});
