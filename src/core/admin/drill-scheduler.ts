import { silentLogger, type Logger } from '../logger.ts';
import type { PaypathError } from '../errors.ts';
import { parseDuration } from '../policy/schema-fields.ts';
import type { DrillConfig } from '../policy/schema.ts';
import type { DrillRunner } from './drills.ts';

const RETRY_WHILE_BUSY_MS = 5_000;

/** Runs the policy's `drills` on their schedule; reconfigured whenever a policy is applied. */
export class DrillScheduler {
  readonly #runner: DrillRunner;
  readonly #logger: Logger;
  #timers: ReturnType<typeof setInterval>[] = [];
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();

  constructor(runner: DrillRunner, logger: Logger = silentLogger) {
    this.#runner = runner;
    this.#logger = logger;
  }

  configure(drills: readonly DrillConfig[]): void {
    this.stop();
    for (const drill of drills) {
      const everyMs = parseDuration(drill.every);
      const attempt = (retriesLeft: number) => {
        this.#runner
          .start({
            ...(drill.paths ? { paths: drill.paths } : { path: drill.path! }),
            durationMs: drill.durationMs,
            actor: 'scheduler',
            trigger: 'schedule',
          })
          .catch((error: unknown) => {
            // Drills run one at a time: one scheduled at the same moment as another waits for it.
            if ((error as PaypathError).code === 'drill_running' && retriesLeft > 0) {
              const retry = setTimeout(() => attempt(retriesLeft - 1), RETRY_WHILE_BUSY_MS);
              (retry as { unref?: () => void }).unref?.();
              this.#retries.add(retry);
              return;
            }
            const paths = drill.paths ?? [drill.path!];
            this.#logger.warn(
              { event: 'drill_not_started', paths, code: (error as PaypathError).code },
              `scheduled drill on ${paths.join(', ')} not started: ${(error as Error).message}`,
            );
          });
      };
      const timer = setInterval(
        () => attempt(Math.floor(everyMs / RETRY_WHILE_BUSY_MS) - 1),
        everyMs,
      );
      (timer as { unref?: () => void }).unref?.();
      this.#timers.push(timer);
    }
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    for (const retry of this.#retries) clearTimeout(retry);
    this.#timers = [];
    this.#retries.clear();
  }
}
