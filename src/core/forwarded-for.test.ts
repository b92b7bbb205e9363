import { describe, expect, it } from 'vitest';
import { setForwardedFor } from './forwarded-for.ts';

const sent = (
  mode: 'append' | 'replace' | 'drop',
  claimed: string | undefined,
  peer: string | undefined,
) => {
  const headers = new Headers(claimed === undefined ? {} : { 'x-forwarded-for': claimed });
  setForwardedFor(headers, mode, peer);
  return headers.get('x-forwarded-for');
};

describe('setForwardedFor', () => {
  it('appends the peer to what the client claimed, or starts the list with it', () => {
    expect(sent('append', '203.0.113.9', '127.0.0.1')).toBe('203.0.113.9, 127.0.0.1');
    expect(sent('append', undefined, '127.0.0.1')).toBe('127.0.0.1');
  });

  it("replaces or drops the client's claim by policy", () => {
    expect(sent('replace', '203.0.113.9', '127.0.0.1')).toBe('127.0.0.1');
    expect(sent('drop', '203.0.113.9', '127.0.0.1')).toBeNull();
  });

  it('never passes a claim on without the real peer after it', () => {
    expect(sent('append', '203.0.113.9', undefined)).toBeNull();
  });
});
