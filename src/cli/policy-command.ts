import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { table, truncate } from './table.ts';
import { CliUsageError } from './cli-usage-error.ts';
import { call, connection, CONNECTION_OPTIONS } from './gateway-client.ts';

/** `paypath policy show | diff | apply | rollback | history` against a running gateway. */

interface ChangeJson {
  field: string;
  op: string;
  from?: unknown;
  to?: unknown;
}

function changeTable(changes: ChangeJson[]): string {
  if (changes.length === 0) return 'no changes';
  const show = (v: unknown) => (v === undefined ? null : truncate(JSON.stringify(v), 60));
  return table(
    ['FIELD', 'CHANGE', 'FROM', 'TO'],
    changes.map((c) => [c.field, c.op, show(c.from), show(c.to)]),
  );
}

export async function policyCommand(
  args: string[],
  print: (text: string) => void,
): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: CONNECTION_OPTIONS,
  });
  const conn = connection(values, print);
  const out = (body: unknown, text: () => string) =>
    print(conn.json ? JSON.stringify(body, null, 2) : text());
  switch (sub) {
    case 'show': {
      if (positionals.length !== 0)
        throw new CliUsageError('policy show takes no file: it prints the running policy');
      const { body } = await call(conn, 'GET', '/admin/policy');
      const running = body as {
        revision: number;
        hash: string;
        appliedAt: string;
        source: string;
        actor: string;
        policy: unknown;
      };
      // Comments, so the output can be saved, edited and applied as it is.
      out(body, () =>
        `# revision ${running.revision}, hash ${running.hash}, applied ${running.appliedAt} (${running.source}, by ${running.actor})\n${stringify(running.policy)}`.trimEnd(),
      );
      return 0;
    }
    case 'diff': {
      if (positionals.length !== 1) throw new CliUsageError('policy diff takes one policy file');
      const { body } = await call(conn, 'POST', '/admin/policy/diff', {
        body: await readFile(positionals[0]!, 'utf8'),
        headers: { 'content-type': 'application/yaml' },
      });
      const diff = body as { from: { revision: number }; changes: ChangeJson[] };
      out(
        body,
        () => `against running revision ${diff.from.revision}:\n${changeTable(diff.changes)}`,
      );
      return 0;
    }
    case 'apply': {
      if (positionals.length !== 1) throw new CliUsageError('policy apply takes one policy file');
      const text = await readFile(positionals[0]!, 'utf8');
      const { headers } = await call(conn, 'GET', '/admin/policy');
      const etag = headers.get('etag') ?? '';
      const { body } = await call(conn, 'PUT', '/admin/policy', {
        body: text,
        headers: { 'content-type': 'application/yaml', 'if-match': etag },
      });
      const result = body as {
        applied: boolean;
        revision: number;
        hash: string;
        diff: { changes: ChangeJson[] };
      };
      out(body, () =>
        result.applied
          ? `applied as revision ${result.revision} (hash ${result.hash})\n${changeTable(result.diff.changes)}`
          : `unchanged: revision ${result.revision} already runs this policy`,
      );
      return 0;
    }
    case 'rollback': {
      if (positionals.length !== 1 || !/^[0-9]+$/.test(positionals[0]!))
        throw new CliUsageError('policy rollback takes one revision number');
      const { body } = await call(conn, 'POST', `/admin/policy/rollback/${positionals[0]}`);
      const result = body as { revision: number; hash: string; diff: { changes: ChangeJson[] } };
      out(
        body,
        () =>
          `revision ${positionals[0]} restored as revision ${result.revision} (hash ${result.hash})\n${changeTable(result.diff.changes)}`,
      );
      return 0;
    }
    case 'history': {
      const { body } = await call(conn, 'GET', '/admin/policy/history');
      const history = body as {
        current: number;
        revisions: {
          revision: number;
          hash: string;
          appliedAt: string;
          actor: string;
          source: string;
          restoredFrom: number | null;
        }[];
      };
      out(body, () =>
        table(
          ['REVISION', 'HASH', 'APPLIED AT', 'SOURCE', 'ACTOR', 'NOTE'],
          history.revisions.map((r) => [
            `${r.revision}${r.revision === history.current ? ' *' : ''}`,
            r.hash,
            r.appliedAt,
            r.source,
            r.actor,
            r.restoredFrom === null ? null : `restores ${r.restoredFrom}`,
          ]),
        ),
      );
      return 0;
    }
    default:
      throw new CliUsageError(
        `policy needs a subcommand: show | diff FILE | apply FILE | rollback REVISION | history`,
      );
  }
}
