import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditLog, AuditRecord } from '../../core/admin/audit.ts';
import type { Logger } from '../../core/logger.ts';

/**
 * The audit log as JSON lines, appended (O_APPEND) to a file readable by its owner only. Writes
 * are serialised so lines never interleave. A failed write is logged; it never blocks the action.
 */
export class JsonlAuditLog implements AuditLog {
  readonly file: string;
  readonly #logger: Logger;
  #tail: Promise<void> = Promise.resolve();
  #ready: Promise<void> | undefined;

  constructor(file: string, logger: Logger) {
    this.file = file;
    this.#logger = logger;
  }

  append(record: AuditRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    this.#tail = this.#tail.then(async () => {
      try {
        this.#ready ??= this.#prepare();
        await this.#ready;
        await appendFile(this.file, line, { mode: 0o600, flag: 'a' });
      } catch (error) {
        this.#logger.error(
          {
            event: 'audit_write_failed',
            file: this.file,
            err: String(error),
            action: record.action,
          },
          'audit record could not be written',
        );
      }
    });
    return this.#tail;
  }

  async #prepare(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    await (await open(this.file, 'a', 0o600)).close();
  }

  async recent(limit: number): Promise<AuditRecord[]> {
    await this.#tail;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line !== '')
      .slice(-limit)
      .reverse()
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as AuditRecord];
        } catch {
          return [];
        }
      });
  }
}
