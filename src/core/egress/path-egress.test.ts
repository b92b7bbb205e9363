import { describe, expect, it } from 'vitest';
import { FakeEgressProbe, viaCarrier } from '../../../test/support/fake-egress-probe.ts';
import { policyFromObject } from '../../../test/support/policy.ts';
import { EgressUnavailableError } from './egress-probe.ts';
import {
  checkPathEgress,
  egressKey,
  egressUsable,
  sharedEgressGroups,
  upstreamHost,
  type PathEgress,
} from './path-egress.ts';

const box = () =>
  new FakeEgressProbe({
    names: ['lo', 's1', 's2', 's3', 'wwan0'],
    addresses: [
      { interface: 'lo', address: '127.0.0.1', family: 4 },
      { interface: 's1', address: '10.201.1.2', family: 4 },
      { interface: 's2', address: '10.201.2.2', family: 4 },
      { interface: 's3', address: '10.201.3.2', family: 4 },
      { interface: 's3', address: 'fe80::1', family: 6 },
    ],
  });

const pathOf = (fields: Record<string, unknown>) =>
  policyFromObject({
    version: 1,
    paths: [{ id: 'p', upstream: 'http://10.9.0.1:8080', ...fields }],
    routes: [{ id: 'r', match: { method: 'POST', path: '/' }, paths: ['p'] }],
  }).paths[0]!;

describe('checkPathEgress', () => {
  it('asks the route from the bind address and reports interface and next hop', async () => {
    const probe = box();
    probe.routes.set('10.201.3.2', viaCarrier(1));
    const egress = await checkPathEgress(
      probe,
      pathOf({ bind: '10.201.3.2' }),
      probe.box,
      undefined,
    );
    expect(egress).toMatchObject({
      state: 'known',
      interface: 's1',
      gateway: '10.201.1.1',
      source: '10.201.3.2',
      destination: '10.9.0.1',
    });
    expect(egressKey(egress)).toBe('s1 via 10.201.1.1');
    expect(probe.asked).toEqual([{ destination: '10.9.0.1', source: '10.201.3.2' }]);
  });

  it('reports a bind address that is not on the box, naming it, without asking for a route', async () => {
    const probe = box();
    const egress = await checkPathEgress(probe, pathOf({ bind: '10.0.3.2' }), probe.box, undefined);
    expect(egress).toMatchObject({
      state: 'no_address',
      reason: 'bind address 10.0.3.2 is not on this box',
    });
    expect(egressKey(egress)).toBeNull();
    // Only asked whether the kernel treats the address as its own (as it does all of 127.0.0.0/8).
    expect(probe.asked).toEqual([{ destination: '10.0.3.2', source: undefined }]);
  });

  it("uses an interface path's current address of the upstream's family, and says when it has none", async () => {
    const probe = box();
    probe.routes.set('10.201.3.2', viaCarrier(3, null, '103'));
    expect(
      await checkPathEgress(probe, pathOf({ interface: 's3' }), probe.box, undefined),
    ).toMatchObject({ state: 'known', source: '10.201.3.2', interface: 's3', table: '103' });
    expect(
      await checkPathEgress(probe, pathOf({ interface: 'wwan0' }), probe.box, undefined),
    ).toMatchObject({ state: 'no_address', reason: 'interface wwan0 has no address' });
    expect(
      await checkPathEgress(probe, pathOf({ interface: 'wwan9' }), probe.box, undefined),
    ).toMatchObject({ state: 'no_address', reason: 'interface wwan9 is not on this box' });
    const v6 = await checkPathEgress(
      probe,
      pathOf({ interface: 's1', upstream: 'http://[2001:db8::1]:8080' }),
      probe.box,
      undefined,
    );
    expect(v6).toMatchObject({ state: 'no_address', reason: 'interface s1 has no IPv6 address' });
  });

  it('uses the address the transport last connected to for a host name, else resolves it', async () => {
    const probe = box();
    probe.routes.set('*', viaCarrier(2));
    const named = pathOf({ upstream: 'https://pay.processor.example' });
    expect(await checkPathEgress(probe, named, probe.box, '10.9.0.7')).toMatchObject({
      state: 'known',
      destination: '10.9.0.7',
    });
    expect(await checkPathEgress(probe, named, probe.box, undefined)).toMatchObject({
      state: 'unknown',
      reason: expect.stringContaining('cannot resolve pay.processor.example'),
    });
    probe.hosts.set('pay.processor.example', '10.9.0.8');
    expect(await checkPathEgress(probe, named, probe.box, undefined)).toMatchObject({
      state: 'known',
      destination: '10.9.0.8',
      interface: 's2',
    });
  });

  it('reports a probe that cannot ask the kernel (no ip command) as unknown, not unroutable', async () => {
    const probe = box();
    probe.route = () => Promise.reject(new EgressUnavailableError('ip route get: spawn ip ENOENT'));
    const egress = await checkPathEgress(
      probe,
      pathOf({ bind: '10.201.2.2' }),
      probe.box,
      undefined,
    );
    expect(egress).toMatchObject({
      state: 'unknown',
      reason: 'cannot ask the kernel: ip route get: spawn ip ENOENT',
    });
    expect(egressUsable(egress)).toBe(true);
  });

  it('reports no route as unroutable and loopback as local (never grouped)', async () => {
    const probe = box();
    expect(
      await checkPathEgress(probe, pathOf({ bind: '10.201.2.2' }), probe.box, undefined),
    ).toMatchObject({
      state: 'unroutable',
      reason: 'no route to 10.9.0.1 from 10.201.2.2: Network is unreachable',
    });
    // Loopback needs no question to the kernel; another address the kernel routes locally does.
    probe.asked = [];
    const loopback = await checkPathEgress(
      probe,
      pathOf({ bind: '127.0.0.2', upstream: 'http://127.0.0.1:9' }),
      probe.box,
      undefined,
    );
    expect(loopback).toMatchObject({ state: 'local', source: '127.0.0.2', interface: 'lo' });
    expect(probe.asked).toEqual([]);
    probe.routes.set('10.201.1.2', {
      interface: 'lo',
      gateway: null,
      source: null,
      table: null,
      local: true,
    });
    const local = await checkPathEgress(
      probe,
      pathOf({ bind: '10.201.1.2', upstream: 'http://10.201.2.2:9' }),
      probe.box,
      undefined,
    );
    expect(local.state).toBe('local');
    expect(egressKey(local)).toBeNull();
  });
});

describe('sharedEgressGroups', () => {
  it('lists paths that leave the same way, and only those', () => {
    const known = (iface: string, gateway: string | null): PathEgress => ({
      state: 'known',
      interface: iface,
      gateway,
      source: null,
      table: null,
      destination: null,
      reason: null,
      checkedAt: null,
    });
    expect(
      sharedEgressGroups([
        { id: 'a', egress: known('s1', '10.201.1.1') },
        { id: 'b', egress: known('s2', '10.201.2.1') },
        { id: 'c', egress: known('s1', '10.201.1.1') },
        { id: 'd', egress: known('wwan0', null) },
      ]),
    ).toEqual([{ egress: 's1 via 10.201.1.1', paths: ['a', 'c'] }]);
  });
});

describe('upstreamHost', () => {
  it('gives the host of an upstream URL, an IPv6 literal without brackets', () => {
    expect(upstreamHost('https://processor.example:8443/v1')).toBe('processor.example');
    expect(upstreamHost('http://10.203.0.10:8080')).toBe('10.203.0.10');
    expect(upstreamHost('http://[2001:db8::10]:8080')).toBe('2001:db8::10');
  });
});
