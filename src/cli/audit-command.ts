import { parseArgs } from 'node:util';
import { table, truncate } from './table.ts';
import { CliUsageError } from './cli-usage-error.ts';
import { call, connection, CONNECTION_OPTIONS } from './gateway-client.ts';

/** `paypath audit`: the gateway's most recent audit records. */

interface AuditJson {
  time: string;
  actor: string;
  action: string;
  outcome: string;
  revision?: number;
  details?: Record<string, unknown>;
}

export async function auditCommand(args: string[], print: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, limit: { type: 'string', default: '20' } },
  });
  if (positionals.length !== 0) throw new CliUsageError('audit takes no arguments but options');
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
    throw new CliUsageError(`--limit must be a whole number from 1 to 1000, got "${values.limit}"`);
  const conn = connection(values, print);
  const { body } = await call(conn, 'GET', `/admin/audit?limit=${limit}`);
  const records = (body as { records: AuditJson[] }).records;
  if (conn.json) print(JSON.stringify(body, null, 2));
  else if (records.length === 0) print('no audit records');
  else {
    print(
      table(
        ['TIME', 'ACTOR', 'ACTION', 'OUTCOME', 'REVISION', 'DETAILS'],
        records.map((r) => [
          r.time,
          r.actor,
          r.action,
          r.outcome,
          r.revision,
          r.details === undefined ? null : truncate(JSON.stringify(r.details), 80),
        ]),
      ),
    );
  }
  return 0;
}
