import { describe, expect, it } from 'vitest';
import { FakeEgressProbe, viaCarrier } from '../../test/support/fake-egress-probe.ts';
import { policyFromObject } from '../../test/support/policy.ts';
import { OpossumBreaker } from '../adapters/node/opossum-breaker.ts';
import { Gateway } from './gateway.ts';
import type { RedundancyAlarmPayload } from './health/redundancy-alarm.ts';
import type { PathTransport } from './transport.ts';

const transport = (): PathTransport => ({
  send: () => Promise.reject(new Error('not used')),
  close: async () => {},
});

function storeBox() {
  const probe = new FakeEgressProbe({
    names: ['lo', 's1', 's2', 's3'],
    addresses: [1, 2, 3].map((n) => ({
      interface: `s${n}`,
      address: `10.201.${n}.2`,
      family: 4 as const,
    })),
  });
  // Wired by hand: one default route, via carrier 1, whatever the source address.
  for (const n of [1, 2, 3]) probe.routes.set(`10.201.${n}.2`, viaCarrier(1));
  const policy = policyFromObject({
    version: 1,
    paths: [1, 2, 3].map((n) => ({
      id: `carrier-${n}`,
      upstream: 'http://10.9.0.1:8080',
      bind: `10.201.${n}.2`,
    })),
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        paths: ['carrier-1', 'carrier-2', 'carrier-3'],
      },
    ],
    probe: { enabled: false },
    redundancy: { webhooks: ['http://alarm.test/hook'] },
    routing: { egressCheckMs: 0 },
  });
  const alarms: RedundancyAlarmPayload[] = [];
  const logs: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const log =
    (level: string) =>
    (fields: object, message = '') =>
      logs.push({ level, fields: fields as Record<string, unknown>, message });
  const gateway = new Gateway({
    policy,
    policyHash: 'test',
    transportFactory: transport,
    breakerFactory: (config) => new OpossumBreaker(config),
    egressProbe: probe,
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    fetch: async (_url, init) => {
      alarms.push(JSON.parse(String(init?.body)) as RedundancyAlarmPayload);
      return new Response(null, { status: 204 });
    },
  });
  return { probe, gateway, alarms, logs };
}

describe('egress in redundancy', () => {
  it('counts paths that all leave by carrier 1 as one (N+0, alarm raised), and climbs back to N+2 once per-carrier routes exist', async () => {
    const { probe, gateway, alarms, logs } = storeBox();
    try {
      // Before any check, the policy's three paths count as three.
      expect(gateway.status().redundancy.level).toBe('N+2');
      await gateway.startEgressWatch();
      const misrouted = gateway.status();
      expect(misrouted.redundancy).toEqual({ level: 'N+0', healthy: 1, total: 1 });
      expect(misrouted.sharedEgress).toEqual([
        { egress: 's1 via 10.201.1.1', paths: ['carrier-1', 'carrier-2', 'carrier-3'] },
      ]);
      expect(misrouted.paths.find((p) => p.id === 'carrier-3')!.egress).toMatchObject({
        state: 'known',
        interface: 's1',
        source: '10.201.3.2',
        sharedWith: ['carrier-1', 'carrier-2'],
      });
      await gateway.alarmDeliveries();
      expect(alarms).toMatchObject([
        {
          event: 'redundancy.dropped',
          from: 'N+2',
          to: 'N+0',
          cause: {
            reason: 'egress: carrier-1, carrier-2, carrier-3 all leave by s1 via 10.201.1.1',
          },
        },
      ]);
      expect(
        logs
          .filter((l) => l.level === 'warn' && l.fields.event === 'path_egress')
          .map((l) => l.fields.path),
      ).toEqual(['carrier-1', 'carrier-2', 'carrier-3']);

      // The ops add per-carrier tables; the kernel reports the change, and no restart is needed.
      probe.routes.set('10.201.2.2', viaCarrier(2, null, '102'));
      probe.routes.set('10.201.3.2', viaCarrier(3, null, '103'));
      probe.change();
      await gateway.checkEgress();
      const fixed = gateway.status();
      expect(fixed.redundancy).toEqual({ level: 'N+2', healthy: 3, total: 3 });
      expect(fixed.sharedEgress).toEqual([]);
      expect(fixed.paths.map((p) => p.egress.interface)).toEqual(['s1', 's2', 's3']);
      await gateway.alarmDeliveries();
      expect(alarms.map((a) => `${a.event} ${a.from}->${a.to}`)).toEqual([
        'redundancy.dropped N+2->N+0',
        'redundancy.recovered N+0->N+2',
      ]);
    } finally {
      await gateway.close();
    }
    expect(probe.watching).toBe(0);
  });

  it('reports a bind address that is not on the box at the first check, naming the path, and counts that path as unusable', async () => {
    const { probe, gateway, logs } = storeBox();
    probe.box.addresses = probe.box.addresses.filter((a) => a.address !== '10.201.3.2');
    for (const n of [1, 2]) probe.routes.set(`10.201.${n}.2`, viaCarrier(n));
    try {
      await gateway.startEgressWatch();
      expect(logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
        'path carrier-3: egress no_address: bind address 10.201.3.2 is not on this box',
      ]);
      const status = gateway.status();
      expect(status.paths[2]!.egress).toMatchObject({
        state: 'no_address',
        reason: 'bind address 10.201.3.2 is not on this box',
      });
      expect(status.redundancy).toMatchObject({ level: 'N+1', healthy: 2, total: 3 });
    } finally {
      await gateway.close();
    }
  });

  it('checks again on a policy change: a path bound to another address is asked about at once', async () => {
    const { probe, gateway } = storeBox();
    let next: Gateway | undefined;
    try {
      await gateway.startEgressWatch();
      expect(gateway.status().redundancy.level).toBe('N+0');
      // The new policy binds carrier-3 to an address that the kernel routes by carrier 3.
      probe.box.addresses.push({ interface: 's3', address: '10.201.3.9', family: 4 });
      probe.routes.set('10.201.3.9', viaCarrier(3, null, '103'));
      const policy = {
        ...gateway.policy,
        paths: gateway.policy.paths.map((p) =>
          p.id === 'carrier-3' ? { ...p, bind: '10.201.3.9' } : p,
        ),
      };
      next = new Gateway({
        policy,
        policyHash: 'next',
        previous: gateway,
        transportFactory: transport,
        breakerFactory: (config) => new OpossumBreaker(config),
        egressProbe: probe,
      });
      // Unchanged paths keep what was known; the changed one is checked by the new gateway's watch.
      expect(next.status().paths[0]!.egress.interface).toBe('s1');
      await next.checkEgress();
      expect(next.status().paths[2]!.egress).toMatchObject({
        interface: 's3',
        source: '10.201.3.9',
      });
      expect(next.status().redundancy.level).toBe('N+1');
      await gateway.retire(next);
    } finally {
      await next?.close();
      await gateway.close();
    }
    expect(probe.watching).toBe(0);
  });

  it('reports egress as unknown, and counts the policy as written, where no probe is given (Workers)', () => {
    const { gateway: probed } = storeBox();
    void probed.close();
    const policy = probed.policy;
    const gateway = new Gateway({
      policy,
      policyHash: 'test',
      transportFactory: transport,
      breakerFactory: (config) => new OpossumBreaker(config),
    });
    expect(gateway.status().paths[0]!.egress).toMatchObject({
      state: 'unknown',
      reason: "this runtime cannot see the host's routes",
      sharedWith: [],
    });
    expect(gateway.status().redundancy.level).toBe('N+2');
    void gateway.close();
  });
});
