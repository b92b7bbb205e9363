import type { Disposable } from '../../../core/breaker/breaker.ts';
import type {
  HealthStore,
  HealthStoreMember,
  PathHealthEvent,
} from '../../../core/health/health-store.ts';
import type { Logger } from '../../../core/logger.ts';
import { silentLogger } from '../../../core/logger.ts';
import {
  HEALTH_CHANNEL,
  HEALTH_RECORD_SCRIPT,
  HEALTH_STATE_KEY,
  applyNewerStored,
  healthRecordArgs,
  healthTrialKey,
  newerThanLocal,
  parseHealthEvent,
} from '../../../core/health/redis-layout.ts';
import { duplicateClient, type RedisClient } from './client.ts';

type RedisWithScript = RedisClient & {
  paypathRecordHealth(
    stateKey: string,
    reportersKey: string,
    ...args: (string | number)[]
  ): Promise<number>;
};

export interface RedisHealthStoreOptions {
  logger?: Logger;
  /** How often the shared state is read and failed writes are retried, in ms. Default: 2000. */
  refreshMs?: number;
}

/**
 * The shared health store over Redis (ioredis). Transitions are written and published; a second
 * connection subscribes and hands other instances' transitions to the gateway. Nothing here is
 * awaited by a payment: publishing is fire-and-forget, the trial lock is asked for in the
 * background, and with the fail-fast client (src/adapters/node/redis/client.ts) every command
 * fails within ~250 ms when Redis is down or hung. While Redis is unreachable each instance runs on
 * its own breakers; on every (re)connect the store resynchronises: the newer of the local and the
 * stored transition wins, per path. A periodic refresh covers what no reconnect announces: a
 * Cluster stays "ready" while one node is away (a write to it fails; the node carrying the
 * subscription may be replaced, and publishes in between are missed), and a hung server that
 * resumes never reconnected at all.
 */
export class RedisHealthStore implements HealthStore {
  readonly shared = true;
  readonly #client: RedisWithScript;
  readonly #subscriber: RedisClient;
  readonly #logger: Logger;
  #member: HealthStoreMember | undefined;
  /** Without an offline queue, SUBSCRIBE works only once connected, so (re)subscribe on every ready, then resync. */
  readonly #onReady = () => {
    this.#subscriber.subscribe(HEALTH_CHANNEL).then(
      () => this.#resync(),
      () => {},
    );
  };
  /** The command connection may come back after the subscriber (or the reverse): resync on either. */
  readonly #onClientReady = () => {
    if (this.#subscriber.status === 'ready') void this.#resync();
  };
  #resyncRetry: ReturnType<typeof setTimeout> | undefined;
  #resyncFailures = 0;
  /** Our transitions whose write failed, per path, until written or superseded. */
  readonly #unsent = new Map<string, PathHealthEvent>();
  readonly #refreshTimer: ReturnType<typeof setInterval>;
  readonly #onMessage = (channel: string, message: string) => this.#receive(channel, message);

  constructor(client: RedisClient, options: RedisHealthStoreOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
    this.#client = client as RedisWithScript;
    if (typeof this.#client.paypathRecordHealth !== 'function') {
      client.defineCommand('paypathRecordHealth', { numberOfKeys: 2, lua: HEALTH_RECORD_SCRIPT });
    }
    // A subscribed connection can run nothing else; it inherits the fail-fast options.
    this.#subscriber = duplicateClient(client);
    this.#subscriber.on('message', this.#onMessage);
    this.#subscriber.on('ready', this.#onReady);
    client.on('ready', this.#onClientReady);
    this.#refreshTimer = setInterval(() => void this.#refresh(), options.refreshMs ?? 2_000);
    this.#refreshTimer.unref();
  }

  join(member: HealthStoreMember): Disposable {
    this.#member = member;
    if (this.#subscriber.status === 'ready') this.#onReady();
    return {
      dispose: () => {
        if (this.#member === member) this.#member = undefined;
      },
    };
  }

  publish(event: PathHealthEvent): void {
    const member = this.#member;
    this.#record(event, member?.quorum ?? 1, member?.reportTtlMs ?? 10_000).then(
      () => {
        const unsent = this.#unsent.get(event.pathId);
        if (unsent && unsent.at <= event.at) this.#unsent.delete(event.pathId);
      },
      (error: Error) => {
        // Expected while Redis is down: the next resync or refresh shares this transition, unless a newer one supersedes it.
        if (this.#isLatest(event)) this.#unsent.set(event.pathId, event);
        debug(
          this.#logger,
          { event: 'health_store_write_failed', path: event.pathId, error: error.message },
          'health store write failed',
        );
      },
    );
  }

  async acquireTrial(pathId: string, instanceId: string, ttlMs: number): Promise<boolean> {
    try {
      const result = await this.#client.set(healthTrialKey(pathId), instanceId, 'PX', ttlMs, 'NX');
      if (result === 'OK') return true;
      return (await this.#client.get(healthTrialKey(pathId))) === instanceId;
    } catch {
      return true; // Redis unreachable: the local breaker decides alone
    }
  }

  dispose(): void {
    this.#member = undefined;
    clearTimeout(this.#resyncRetry);
    clearInterval(this.#refreshTimer);
    this.#client.off('ready', this.#onClientReady);
    this.#subscriber.off('ready', this.#onReady);
    this.#subscriber.disconnect();
  }

  #record(event: PathHealthEvent, quorum: number, ttlMs: number): Promise<number> {
    const [stateKey, reportersKey, ...args] = healthRecordArgs(event, Date.now(), ttlMs, quorum);
    return this.#client.paypathRecordHealth(String(stateKey), String(reportersKey), ...args);
  }

  #receive(channel: string, message: string): void {
    if (channel !== HEALTH_CHANNEL) return;
    const event = parseHealthEvent(message);
    if (event && this.#member && newerThanLocal(this.#member, event)) this.#member.apply(event);
  }

  /** True while `event` is still the member's last transition of its path (none newer, ours or applied). */
  #isLatest(event: PathHealthEvent): boolean {
    return this.#member?.localStates().some((e) => e === event) ?? false;
  }

  /**
   * Applies stored transitions newer than ours and writes again those of ours that failed. Unlike
   * a resync it does not re-report an opening that is only waiting for the quorum: a report counts
   * for windowMs from when it was made.
   */
  async #refresh(): Promise<void> {
    const member = this.#member;
    if (!member) return;
    try {
      applyNewerStored(member, Object.values(await this.#client.hgetall(HEALTH_STATE_KEY)));
    } catch (error) {
      debug(
        this.#logger,
        { event: 'health_store_refresh_failed', error: (error as Error).message },
        'health store refresh failed',
      );
      return;
    }
    for (const event of [...this.#unsent.values()]) {
      this.#unsent.delete(event.pathId);
      if (this.#isLatest(event)) this.publish(event);
    }
  }

  /** After (re)connecting: apply stored transitions newer than ours; write ours where they are newer. */
  async #resync(): Promise<void> {
    const member = this.#member;
    if (!member) return;
    try {
      const stored = await this.#client.hgetall(HEALTH_STATE_KEY);
      applyNewerStored(member, Object.values(stored));
      for (const mine of member.localStates()) {
        const remote = stored[mine.pathId] ? parseHealthEvent(stored[mine.pathId]!) : undefined;
        if (mine.instanceId === member.instanceId && (!remote || mine.at > remote.at))
          this.publish(mine);
      }
      this.#resyncFailures = 0;
    } catch (error) {
      // Typically the command connection is still reconnecting: try again shortly, a bounded number of times.
      if (++this.#resyncFailures <= 10 && this.#member) {
        clearTimeout(this.#resyncRetry);
        this.#resyncRetry = setTimeout(() => void this.#resync(), 300);
        this.#resyncRetry.unref();
      }
      debug(
        this.#logger,
        { event: 'health_store_resync_failed', error: (error as Error).message },
        'health store resync failed',
      );
    }
  }
}

/** pino has debug; the core Logger interface does not require it. */
function debug(logger: Logger, fields: object, message: string): void {
  (logger as Partial<{ debug: (fields: object, message?: string) => void }>).debug?.(
    fields,
    message,
  );
}
