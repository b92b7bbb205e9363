import { describe, expect, it } from 'vitest';
import { FakeEgressProbe, viaCarrier } from '../../../test/support/fake-egress-probe.ts';
import { policyFromObject } from '../../../test/support/policy.ts';
import { formatDoctorReport } from '../../cli/doctor-command.ts';
import type { DoctorDeps } from './doctor-deps.ts';
import { runDoctor } from './doctor.ts';

function box(overrides: Partial<DoctorDeps> = {}) {
  const probe = new FakeEgressProbe({
    names: ['lo', 'eth1', 'eth2', 'wwan0'],
    addresses: [
      { interface: 'eth1', address: '10.0.1.2', family: 4 },
      { interface: 'eth2', address: '10.0.2.2', family: 4 },
      { interface: 'wwan0', address: '100.64.7.9', family: 4 },
    ],
  });
  for (const source of ['10.0.1.2', '10.0.2.2', '100.64.7.9'])
    probe.routes.set(source, { ...viaCarrier(1), interface: 'eth1', gateway: '10.0.1.1' });
  probe.hosts.set('pay.processor.example', '203.0.113.10');
  const deps: DoctorDeps = {
    probe,
    routing: async () => ({
      defaultRoutes: [{ interface: 'eth1', gateway: '10.0.1.1', table: 'main', family: 4 }],
      pointToPoint: new Set(['wwan0']),
      rules: [],
    }),
    connectFrom: async () => 3.2,
    resolveFrom: async (_host, server, source) => {
      if (source === '100.64.7.9') throw new Error('queryA ETIMEOUT pay.processor.example');
      return `203.0.113.10 via ${server}`;
    },
    systemResolvers: () => ['10.0.1.1'],
    ...overrides,
  };
  return { probe, deps };
}

const policy = policyFromObject({
  version: 1,
  paths: [
    { id: 'kt-fiber', upstream: 'https://pay.processor.example', bind: '10.0.1.2' },
    { id: 'skt-fiber', upstream: 'https://pay.processor.example', bind: '10.0.2.2' },
    { id: 'lgu-lte', upstream: 'https://pay.processor.example', interface: 'wwan0' },
  ],
  routes: [
    {
      id: 'payments',
      match: { method: 'POST', path: '/v1/payments' },
      paths: ['kt-fiber', 'skt-fiber', 'lgu-lte'],
    },
  ],
});

describe('paypath doctor', () => {
  it('names what is wrong and prints tables that fix it: a found next hop, a placeholder where none is known, none on a point-to-point link', async () => {
    const { deps } = box();
    const report = await runDoctor(policy, deps);
    expect(report.problems).toEqual([
      'skt-fiber: its address 10.0.2.2 is on eth2, but its packets leave by eth1 via 10.0.1.1 (a source address does not choose the interface; a routing rule does)',
      'lgu-lte: its address 100.64.7.9 is on wwan0, but its packets leave by eth1 via 10.0.1.1 (a source address does not choose the interface; a routing rule does)',
      'lgu-lte: resolver 10.0.1.1 did not answer from 100.64.7.9: queryA ETIMEOUT pay.processor.example: pay.processor.example cannot be resolved on this path',
      'kt-fiber, skt-fiber, lgu-lte all leave by eth1 via 10.0.1.1: they are one path for redundancy',
    ]);
    expect(
      report.fixes.map((f) => [
        f.table.pathId,
        f.table.interface,
        f.table.gateway,
        f.table.table,
        f.gatewayMissing,
      ]),
    ).toEqual([
      ['kt-fiber', 'eth1', '10.0.1.1', 101, false],
      ['skt-fiber', 'eth2', null, 102, true],
      ['lgu-lte', 'wwan0', null, 103, false],
    ]);
    const text = formatDoctorReport('store.yaml', report);
    expect(text).toContain('  ip route replace default via GATEWAY dev eth2 table 102');
    expect(text).toContain('  ip route replace default dev wwan0 table 103');
    expect(text).toContain('The next hop of skt-fiber (eth2) is not in the policy or in any route');
  });

  it('takes the next hop from the policy, and says nothing is wrong once each path leaves by its own carrier', async () => {
    const { deps, probe } = box({ resolveFrom: async () => '203.0.113.10' });
    const withGateway = {
      ...policy,
      paths: policy.paths.map((p) => (p.id === 'skt-fiber' ? { ...p, gateway: '10.0.2.1' } : p)),
    };
    expect((await runDoctor(withGateway, deps)).fixes[1]!.table).toMatchObject({
      gateway: '10.0.2.1',
      source: '10.0.2.2',
      priority: 1001,
    });
    probe.routes.set('10.0.2.2', {
      interface: 'eth2',
      gateway: '10.0.2.1',
      source: null,
      table: '102',
      local: false,
    });
    probe.routes.set('100.64.7.9', {
      interface: 'wwan0',
      gateway: null,
      source: null,
      table: '103',
      local: false,
    });
    const fine = await runDoctor(withGateway, deps);
    expect(fine.problems).toEqual([]);
    expect(formatDoctorReport('store.yaml', fine)).toContain('No problems found');
  });

  it('reports a bind address that is not on the box and an upstream that refuses', async () => {
    const { deps } = box({
      connectFrom: async () => Promise.reject(new Error('connect ECONNREFUSED 203.0.113.10:443')),
    });
    const moved = {
      ...policy,
      paths: policy.paths.map((p) => (p.id === 'kt-fiber' ? { ...p, bind: '10.0.9.2' } : p)),
    };
    const report = await runDoctor(moved, deps);
    expect(report.problems).toContain('kt-fiber: bind address 10.0.9.2 is not on this box');
    expect(report.problems).toContain(
      'skt-fiber: upstream not reachable: TCP 203.0.113.10:443 from 10.0.2.2: connect ECONNREFUSED 203.0.113.10:443',
    );
  });
});
