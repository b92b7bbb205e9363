import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { PolicyControl } from '../../core/admin/policy-control.ts';
import { PaypathError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { parsePolicy } from '../../core/policy/parse.ts';

export interface PolicyWatcherOptions {
  file: string;
  control: PolicyControl;
  logger: Logger;
  /** Changes within this window are read once. Default: 200 ms. */
  debounceMs?: number;
}

/**
 * Reloads the policy file when it changes on disk. The directory is watched (editors and config
 * tools replace a file by renaming another over it); bursts of events are debounced. A file that
 * does not validate keeps the running policy and is reported in /status, the log and the audit log.
 */
export class PolicyWatcher {
  readonly #options: PolicyWatcherOptions;
  readonly #watcher: FSWatcher;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #lastText: string | undefined;
  /** Reloads finished (applied, unchanged or rejected); lets tests wait without sleeping. */
  reloads = 0;

  constructor(options: PolicyWatcherOptions) {
    this.#options = options;
    const name = basename(options.file);
    this.#watcher = watch(dirname(options.file), (_event, changed) => {
      if (changed === null || changed === name) this.#schedule();
    });
    this.#watcher.on('error', (error) =>
      options.logger.error(
        { event: 'policy_watch_failed', file: options.file, err: String(error) },
        'watching the policy file failed',
      ),
    );
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#running.then(() => this.reload());
    }, this.#options.debounceMs ?? 200);
  }

  /** Reads, validates and applies the file now. */
  async reload(): Promise<void> {
    const { file, control, logger } = this.#options;
    try {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        // A rename-over leaves a brief gap; a missing file is reported, never applied as "nothing".
        await control.reportFileError(file, [
          {
            path: '',
            message: `cannot read file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
          },
        ]);
        return;
      }
      if (text === this.#lastText && control.fileState.lastError === null) return;
      this.#lastText = text;
      const result = parsePolicy(text);
      if (!result.ok) {
        await control.reportFileError(file, result.issues);
        return;
      }
      try {
        await control.apply({ policy: result.policy, actor: `file:${file}`, source: 'file' });
      } catch (error) {
        if (error instanceof PaypathError && Array.isArray(error.details.issues)) {
          await control.reportFileError(
            file,
            error.details.issues as { path: string; message: string }[],
          );
        } else {
          logger.error(
            { event: 'policy_reload_failed', file, err: String(error) },
            'policy reload failed',
          );
        }
      }
    } finally {
      this.reloads++;
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher.close();
  }
}
