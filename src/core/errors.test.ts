import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('error codes', () => {
  it("lists every code a client or operator can receive in the README's error table", () => {
    // ErrorCode is a type only: its members are read from the source.
    const source = readFileSync(new URL('./errors.ts', import.meta.url), 'utf8');
    const union = source.slice(
      source.indexOf('export type ErrorCode ='),
      source.indexOf(';', source.indexOf('export type ErrorCode =')),
    );
    const codes = [...union.matchAll(/\|\s*'([a-z_]+)'/g)].map((match) => match[1]!);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(
      readme.indexOf('## Errors'),
      readme.indexOf('\n## ', readme.indexOf('## Errors') + 1),
    );
    expect(codes.length).toBeGreaterThan(40);
    expect(codes.filter((code) => !table.includes(`\`${code}\``))).toEqual([]);
  });
});
