import { parseArgs } from 'node:util';
import { table } from './table.ts';
import { CliUsageError } from './cli-usage-error.ts';
import { call, connection, CONNECTION_OPTIONS } from './gateway-client.ts';

/** `paypath drill PATH... | stop`: starts (and with --wait, follows) or ends a failover drill. */

export interface DrillJson {
  id: string;
  path: string;
  /** Every path the drill isolates (gateways before multi-path drills send only `path`). */
  paths?: string[];
  status: string;
  startedAt: string;
  durationMs: number;
  requests: number;
  failed: number;
  carriedBy: Record<string, number>;
  latencyMs: { added: number | null };
  endReason: string | null;
}

export function drillTable(drills: DrillJson[]): string {
  return table(
    [
      'DRILL',
      'PATH',
      'STATUS',
      'STARTED',
      'DURATION MS',
      'REQUESTS',
      'FAILED',
      'CARRIED BY',
      'ADDED MS',
      'END',
    ],
    drills.map((d) => [
      d.id,
      (d.paths ?? [d.path]).join(','),
      d.status,
      d.startedAt,
      d.durationMs,
      d.requests,
      d.failed,
      Object.entries(d.carriedBy)
        .map(([p, n]) => `${p}:${n}`)
        .join(' ') || null,
      d.latencyMs.added,
      d.endReason,
    ]),
  );
}

export async function drillCommand(args: string[], print: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      duration: { type: 'string', default: '10000' },
      wait: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0)
    throw new CliUsageError('drill takes one or more path ids, or stop');
  const conn = connection(values, print);
  if (positionals[0] === 'stop') {
    if (positionals.length !== 1)
      throw new CliUsageError('drill stop takes no path id: it ends the running drill');
    const { body } = await call(conn, 'POST', '/admin/drills/stop');
    const stopped = (body as { stopped: string | null }).stopped;
    print(
      conn.json
        ? JSON.stringify(body, null, 2)
        : stopped === null
          ? 'no drill was running'
          : `${stopped} stopped`,
    );
    return 0;
  }
  const durationMs = Number(values.duration);
  if (!Number.isInteger(durationMs))
    throw new CliUsageError(`--duration must be a number of ms, got "${values.duration}"`);
  const target = positionals.length === 1 ? { path: positionals[0] } : { paths: positionals };
  const { body } = await call(conn, 'POST', '/admin/drills', {
    body: JSON.stringify({ ...target, durationMs }),
    headers: { 'content-type': 'application/json' },
  });
  let drill = body as DrillJson;
  if (values.wait) {
    const deadline = Date.now() + durationMs + 30_000;
    while (Date.now() < deadline) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(1_000, Math.max(100, durationMs / 10))),
      );
      const { body: list } = await call(conn, 'GET', '/admin/drills');
      const done = (list as { recent: DrillJson[] }).recent.find((d) => d.id === drill.id);
      if (done) {
        drill = done;
        break;
      }
    }
  }
  if (conn.json) print(JSON.stringify(drill, null, 2));
  else print(drillTable([drill]));
  return drill.status === 'failed' ? 1 : 0;
}
