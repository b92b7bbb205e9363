import { describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.ts';
import { computeRedundancy, type RedundancyInput } from './redundancy.ts';
import { RedundancyAlarm, type RedundancyAlarmPayload } from './redundancy-alarm.ts';

/** An alarm with one webhook whose deliveries are kept, and a way to wait for them. */
function alarmWithReceiver(alertBelow: number) {
  const received: RedundancyAlarmPayload[] = [];
  const fetchStub: typeof fetch = async (_url, init) => {
    received.push(JSON.parse(String(init?.body)) as RedundancyAlarmPayload);
    return new Response(null, { status: 204 });
  };
  const alarm = new RedundancyAlarm({
    webhooks: ['https://ops.example/hooks'],
    alertBelow,
    instanceId: 'gw-test',
    logger: silentLogger,
    fetch: fetchStub,
  });
  const settled = () => Promise.all([...alarm.pending]);
  return { alarm, received, settled };
}

const path = (id: string, proven = true): RedundancyInput => ({
  id,
  healthy: true,
  proven,
  shareRisk: [],
});

describe('RedundancyAlarm', () => {
  it('is below the alert when too few paths are proven, however many are healthy (as the level in /status)', async () => {
    const { alarm, received, settled } = alarmWithReceiver(3);
    alarm.update(computeRedundancy([path('a'), path('b'), path('c')]), [], null);
    // Three healthy paths, two of them not proven for longer than the policy allows: N+0.
    const unproven = computeRedundancy([path('a'), path('b', false), path('c', false)]);
    expect(unproven).toMatchObject({ healthy: 3, level: 'N+0' });
    alarm.update(unproven, [], null);
    await settled();
    expect(received).toEqual([
      expect.objectContaining({
        event: 'redundancy.dropped',
        from: 'N+2',
        to: 'N+0',
        healthy: 3,
        belowAlert: true,
        unproven: ['b', 'c'],
      }),
    ]);

    // Proven again (a drill of the other paths): N+2, three paths, not below three.
    alarm.update(computeRedundancy([path('a'), path('b'), path('c')]), [], null);
    await settled();
    expect(received[1]).toMatchObject({
      event: 'redundancy.recovered',
      to: 'N+2',
      belowAlert: false,
    });
    expect(received[1]).not.toHaveProperty('unproven');
  });

  it("counts the level's paths against alertBelow: N+1 is two, down is none", async () => {
    const { alarm, received, settled } = alarmWithReceiver(2);
    alarm.update({ healthy: 3, total: 3, level: 'N+2' }, [], null);
    alarm.update({ healthy: 3, total: 3, level: 'N+1', unproven: ['c'] }, [], null);
    alarm.update({ healthy: 1, total: 3, level: 'N+0' }, [], null);
    alarm.update({ healthy: 0, total: 3, level: 'down' }, [], null);
    await settled();
    expect(received.map((r) => [r.to, r.belowAlert])).toEqual([
      ['N+1', false],
      ['N+0', true],
      ['down', true],
    ]);
  });
});
