// The Node runtime's egress checks against this machine's real kernel, on loopback only: a path
// bound to an address the box does not have is reported at start, naming the path.
import { describe, expect, it } from 'vitest';
import { startNodeGateway } from '../src/adapters/node/server.ts';
import { policyFromObject } from './support/policy.ts';
import { REFUSED_PORT } from './support/redis-server.ts';

describe('egress on Node, real kernel', () => {
  it('reports a bind address that is not on the box at start, naming the path, and counts that path as unusable', async () => {
    const upstream = `http://127.0.0.1:${REFUSED_PORT}`; // nothing listens: no traffic leaves loopback
    const policy = policyFromObject({
      version: 1,
      paths: [
        { id: 'kt-fiber', upstream, bind: '127.0.0.2' },
        { id: 'skt-fiber', upstream, bind: '127.0.0.3' },
        { id: 'lgu-lte', upstream, bind: '192.0.2.77' }, // TEST-NET-1: on no box
      ],
      routes: [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          paths: ['kt-fiber', 'skt-fiber', 'lgu-lte'],
        },
      ],
      probe: { enabled: false },
    });
    const errors: { fields: Record<string, unknown>; message: string | undefined }[] = [];
    const logger = {
      info() {},
      warn() {},
      error: (fields: object, message?: string) =>
        errors.push({ fields: fields as Record<string, unknown>, message }),
    };
    const running = await startNodeGateway({
      policy,
      policyHash: 'test',
      port: 0,
      logger,
      dashboardDir: false,
      warmCodePaths: false,
      processMetrics: false,
    });
    try {
      // Start waits for the first check: it is reported before the gateway answers anything.
      expect(errors.map((e) => e.message)).toEqual([
        'path lgu-lte: egress no_address: bind address 192.0.2.77 is not on this box',
      ]);
      expect(errors[0]!.fields).toMatchObject({
        event: 'path_egress',
        path: 'lgu-lte',
        state: 'no_address',
      });
      const status = running.gateway.status();
      expect(status.paths.map((p) => p.egress.state)).toEqual(['local', 'local', 'no_address']);
      expect(status.redundancy).toEqual({ healthy: 2, total: 3, level: 'N+1' });
    } finally {
      await running.close();
    }
  });
});
