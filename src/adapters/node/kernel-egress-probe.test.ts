import { describe, expect, it } from 'vitest';
import { EgressUnavailableError } from '../../core/egress/egress-probe.ts';
import { createKernelEgressProbe, parseAddresses, parseRouteGet } from './kernel-egress-probe.ts';

// Answers of iproute2 6.1 (`ip -j ...`), as seen on a box built from network namespaces.
describe('kernel egress probe without ip', () => {
  it('says the kernel could not be asked (egress unknown), never that there is no route', async () => {
    const probe = createKernelEgressProbe({ ip: '/nonexistent/ip' });
    await expect(probe.route('10.9.0.1', undefined)).rejects.toBeInstanceOf(EgressUnavailableError);
  });
});

describe('kernel egress probe: parsing ip -j', () => {
  it('reads the interface and next hop the kernel chose, and the table when not main', () => {
    expect(
      parseRouteGet(
        '[{"dst":"10.99.0.1","from":"10.250.3.2","gateway":"10.250.1.1","dev":"s1","flags":[],"uid":0,"cache":[]}]',
      ),
    ).toEqual({
      interface: 's1',
      gateway: '10.250.1.1',
      source: '10.250.3.2',
      table: null,
      local: false,
    });
    expect(
      parseRouteGet(
        '[{"dst":"10.99.0.1","from":"10.250.3.2","gateway":"10.250.3.1","dev":"s3","table":"103","flags":[],"uid":0,"cache":[]}]',
      ),
    ).toMatchObject({ interface: 's3', table: '103' });
    expect(
      parseRouteGet(
        '[{"dst":"10.99.0.1","dev":"wwan0","prefsrc":"100.64.7.9","flags":[],"uid":0,"cache":[]}]',
      ),
    ).toMatchObject({ interface: 'wwan0', gateway: null, source: '100.64.7.9' });
    expect(
      parseRouteGet(
        '[{"type":"local","dst":"127.0.0.1","from":"127.0.0.2","dev":"lo","flags":[],"uid":0,"cache":["local"]}]',
      ),
    ).toMatchObject({ local: true, interface: 'lo' });
  });

  it('lists interfaces with and without addresses', () => {
    const box = parseAddresses(
      '[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},{"ifindex":4,"ifname":"wwan0","addr_info":[]},{"ifindex":5,"ifname":"s3","addr_info":[{"family":"inet","local":"10.250.3.2","prefixlen":24},{"family":"inet","local":"10.250.3.7","prefixlen":24,"secondary":true}]}]',
    );
    expect(box.names).toEqual(['lo', 'wwan0', 's3']);
    expect(box.addresses).toEqual([
      { interface: 'lo', address: '127.0.0.1', family: 4 },
      { interface: 'lo', address: '::1', family: 6 },
      { interface: 's3', address: '10.250.3.2', family: 4 },
      { interface: 's3', address: '10.250.3.7', family: 4 },
    ]);
  });
});
