import { WebhookSender, type WebhookSenderOptions } from '../webhook-sender.ts';
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

export interface RedundancyAlarmOptions extends Omit<WebhookSenderOptions, 'kind' | 'userAgent'> {
  webhooks: readonly string[];
  alertBelow: number;
  instanceId: string;
}

/**
 * Watches the redundancy level and raises the alarm on every drop and recovery: one log line and
 * one webhook POST per URL (WebhookSender: retried, never awaited by a payment).
 */
export class RedundancyAlarm {
  readonly #options: RedundancyAlarmOptions;
  readonly #sender: WebhookSender;
  #level: string | undefined;

  constructor(options: RedundancyAlarmOptions) {
    this.#options = options;
    this.#sender = new WebhookSender({
      ...options,
      kind: 'redundancy',
      userAgent: 'paypath-alarm',
    });
  }

  /** Deliveries in progress (tests and shutdown wait on them). */
  get pending(): ReadonlySet<Promise<void>> {
    return this.#sender.pending;
  }

  /** The first call sets the baseline; later calls alarm when the level changed. */
  update(
    redundancy: Redundancy,
    paths: { id: string; state: string }[],
    cause: { path: string; reason: string } | null,
  ): void {
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
    const fields = {
      event: payload.event,
      from: payload.from,
      to: payload.to,
      healthy: payload.healthy,
      total: payload.total,
      cause,
    };
    const message = `redundancy ${payload.from} -> ${payload.to}`;
    if (dropped) this.#options.logger.warn(fields, message);
    else this.#options.logger.info(fields, message);
    for (const url of this.#options.webhooks)
      this.#sender.send(url, payload, { alarm: payload.id });
  }

  close(): void {
    this.#sender.close();
  }
}
