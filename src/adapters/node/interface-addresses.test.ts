import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InterfaceAddresses } from './interface-addresses.ts';

function info(address: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo {
  const base = { address, internal: false, netmask: '', mac: '00:00:00:00:00:00', cidr: null };
  return family === 'IPv4' ? { ...base, family } : { ...base, family, scopeid: 0 };
}

describe('InterfaceAddresses', () => {
  it("answers the interface's address of the family asked for, a global IPv6 one before a link-local one", () => {
    const addresses = new InterfaceAddresses({
      read: () => ({
        wwan0: [info('fe80::1', 'IPv6'), info('10.9.0.2', 'IPv4'), info('2001:db8::2', 'IPv6')],
        lo: [info('127.0.0.1', 'IPv4')],
      }),
    });
    expect(addresses.address('wwan0', 4)).toBe('10.9.0.2');
    expect(addresses.address('wwan0', 6)).toBe('2001:db8::2');
    expect(addresses.address('lo', 6)).toBeUndefined();
    expect(addresses.address('wwan1', 4)).toBeUndefined();
  });

  it('falls back to a link-local IPv6 address when the interface has no other', () => {
    const addresses = new InterfaceAddresses({
      read: () => ({ wwan0: [info('FE80::1', 'IPv6')] }),
    });
    expect(addresses.address('wwan0', 6)).toBe('FE80::1');
  });

  it('keeps one reading for maxAgeMs, and reads again once invalidated', () => {
    let reads = 0;
    let current = '10.9.0.2';
    const addresses = new InterfaceAddresses({
      maxAgeMs: 3_600_000,
      read: () => {
        reads++;
        return { wwan0: [info(current, 'IPv4')] };
      },
    });
    expect(addresses.address('wwan0', 4)).toBe('10.9.0.2');
    current = '10.9.0.3';
    expect(addresses.address('wwan0', 4)).toBe('10.9.0.2');
    addresses.invalidate();
    expect(addresses.address('wwan0', 4)).toBe('10.9.0.3');
    expect(reads).toBe(2);
  });
});
