import type { Logger } from '../logger.ts';
import { pathsCounted, type Redundancy } from './redundancy.ts';

/**
 * The JSON body POSTed to every `redundancy.webhooks` URL on each change of the redundancy level
 * (docs/health.md documents it). `event` is `redundancy.dropped` or `redundancy.recovered`.
 */
export interface RedundancyAlarmPayload {
  event: 'redundancy.dropped' | 'redundancy.recovered';
  /** Level before and after, e.g. `N+2` → `N+1`. */
  from: string;
  to: string;
  healthy: number;
  total: number;
  /**
   * True when the level counts fewer independent paths than `redundancy.alertBelow` (N+1 counts two):
   * healthy paths not proven within `redundancy.provenWithinMs` do not count, as in the level.
   */
  belowAlert: boolean;
  /** Healthy paths left out of the level because they went unproven too long; absent when none. */
  unproven?: string[];
  /** Per path: breaker state now. */
  paths: { id: string; state: string }[];
  /** The path whose transition changed the level, and why. */
  cause: { path: string; reason: string } | null;
  instanceId: string;
  /** ISO time of the change. */
  at: string;
  /** Unique per change: receivers de-duplicate retried deliveries by it. */
  id: string;
}

export interface RedundancyAlarmOptions {
  webhooks: readonly string[];
  alertBelow: number;
  instanceId: string;
  logger: Logger;
  /** Default: global fetch. */
  fetch?: typeof fetch;
  /** Delivery tries per webhook. Default: 6 (backoff 250 ms, 500 ms, … up to 8 s). */
  maxTries?: number;
  baseDelayMs?: number;
  /** Per-try timeout, in ms. Default: 2000. */
  timeoutMs?: number;
}

/**
 * Watches the redundancy level and raises the alarm on every drop and recovery: one log line and
 * one webhook POST per URL, retried with exponential backoff. Delivery runs on its own, never
 * awaited by anything a payment waits for.
 */
export class RedundancyAlarm {
  readonly #options: RedundancyAlarmOptions;
  #level: string | undefined;
  #closed = false;
  /** Wakes deliveries sleeping between tries, so close() ends them. */
  readonly #sleepers = new Set<() => void>();
  /** Deliveries in progress (tests and shutdown wait on them). */
  readonly pending = new Set<Promise<void>>();

  constructor(options: RedundancyAlarmOptions) {
    this.#options = options;
  }

  /** The first call sets the baseline; later calls alarm when the level changed. */
  update(redundancy: Redundancy, paths: { id: string; state: string }[], cause: { path: string; reason: string } | null): void {
    const previous = this.#level;
    this.#level = redundancy.level;
    if (previous === undefined || previous === redundancy.level) return;
    const dropped = pathsCounted(redundancy.level) < pathsCounted(previous);
    const payload: RedundancyAlarmPayload = {
      event: dropped ? 'redundancy.dropped' : 'redundancy.recovered',
      from: previous,
      to: redundancy.level,
      healthy: redundancy.healthy,
      total: redundancy.total,
      belowAlert: pathsCounted(redundancy.level) < this.#options.alertBelow,
      ...(redundancy.unproven ? { unproven: redundancy.unproven } : {}),
      paths,
      cause,
      instanceId: this.#options.instanceId,
      at: new Date().toISOString(),
      id: crypto.randomUUID(),
    };
    const fields = { event: payload.event, from: payload.from, to: payload.to, healthy: payload.healthy, total: payload.total, cause };
    const message = `redundancy ${payload.from} -> ${payload.to}`;
    if (dropped) this.#options.logger.warn(fields, message);
    else this.#options.logger.info(fields, message);
    for (const url of this.#options.webhooks) {
      const delivery = this.#deliver(url, payload).finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  close(): void {
    this.#closed = true;
    for (const wake of this.#sleepers) wake();
    this.#sleepers.clear();
  }

  async #deliver(url: string, payload: RedundancyAlarmPayload): Promise<void> {
    const { maxTries = 6, baseDelayMs = 250, timeoutMs = 2_000, logger } = this.#options;
    const doFetch = this.#options.fetch ?? fetch;
    const body = JSON.stringify(payload);
    for (let attempt = 1; attempt <= maxTries && !this.#closed; attempt++) {
      let failure: string;
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'paypath-alarm' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel().catch(() => {});
        if (response.ok) return;
        failure = `status ${response.status}`;
      } catch (error) {
        failure = (error as Error).name === 'TimeoutError' ? 'timeout' : (error as Error).message;
      }
      if (attempt === maxTries) {
        logger.error({ event: 'webhook_failed', url: redact(url), alarm: payload.id, tries: attempt, failure }, 'redundancy webhook not delivered');
        return;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#sleepers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(baseDelayMs * 2 ** (attempt - 1), 8_000));
        this.#sleepers.add(wake);
      });
    }
  }
}

/** Webhook URLs may carry tokens in their query or credentials: log the origin and path only. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.origin + parsed.pathname;
  } catch {
    return '(invalid url)';
  }
}
