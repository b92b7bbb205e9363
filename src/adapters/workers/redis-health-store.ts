import type { Disposable } from '../../core/breaker/breaker.ts';
import type {
  HealthStore,
  HealthStoreMember,
  PathHealthEvent,
} from '../../core/health/health-store.ts';
import {
  applyNewerStored,
  HEALTH_RECORD_SCRIPT,
  HEALTH_STATE_KEY,
  healthRecordArgs,
} from '../../core/health/redis-layout.ts';
import type { RespClient } from './resp-client.ts';

export interface WorkerHealthStoreOptions {
  /** Opens a connection for one sync (sockets do not outlive a request in workerd). */
  connect: () => Promise<RespClient>;
  /** How often the shared state is read, at most, in ms. Default: 500. */
  refreshMs?: number;
  now?: () => number;
}

/**
 * Shared health for the Worker, in the same Redis layout as the Node instances' store, so a trip
 * seen by either is honoured by the other. workerd keeps no connection or timer between requests,
 * so there is no subscription: each request ends with `sync()` (run through ctx.waitUntil, after
 * the response), which writes this isolate's transitions and, at most every `refreshMs`, reads
 * everyone else's. A payment never waits on Redis; a Redis failure only delays sharing.
 * The half-open trial lock is not taken at the edge (`shared` is false): each isolate trials alone.
 */
export class WorkerRedisHealthStore implements HealthStore {
  readonly shared = false;
  readonly #options: WorkerHealthStoreOptions;
  #member: HealthStoreMember | undefined;
  #pending: PathHealthEvent[] = [];
  #lastRead = -Infinity;
  #syncing: Promise<void> | undefined;

  constructor(options: WorkerHealthStoreOptions) {
    this.#options = options;
  }

  join(member: HealthStoreMember): Disposable {
    this.#member = member;
    return { dispose: () => (this.#member = this.#member === member ? undefined : this.#member) };
  }

  publish(event: PathHealthEvent): void {
    // Only the latest transition of a path matters; older ones still waiting are superseded.
    this.#pending = [...this.#pending.filter((e) => e.pathId !== event.pathId), event];
  }

  acquireTrial(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** Writes pending transitions and reads the shared state when due. Never rejects. */
  sync(): Promise<void> {
    this.#syncing ??= this.#syncUntilWritten().finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  /**
   * A transition published while a sync is past its writes (a probe finishing in the background)
   * is written by another round of the same sync, in the request that runs it: a request that
   * joined the sync does not stay alive for it. A few rounds at most, and none once Redis fails.
   */
  async #syncUntilWritten(): Promise<void> {
    for (let round = 0; round < 3; round++) {
      if (!(await this.#sync()) || this.#pending.length === 0) return;
    }
  }

  dispose(): void {
    this.#member = undefined;
  }

  /** One round; false when Redis could not be reached. */
  async #sync(): Promise<boolean> {
    const member = this.#member;
    const now = (this.#options.now ?? Date.now)();
    const readDue = now - this.#lastRead >= (this.#options.refreshMs ?? 500);
    if (!member || (this.#pending.length === 0 && !readDue)) return true;
    let client: RespClient | undefined;
    try {
      client = await this.#options.connect();
      while (this.#pending.length > 0) {
        const event = this.#pending[0]!;
        await client.command(
          'EVAL',
          HEALTH_RECORD_SCRIPT,
          2,
          ...healthRecordArgs(event, now, member.reportTtlMs, member.quorum),
        );
        this.#pending.shift();
      }
      if (readDue) {
        this.#lastRead = now;
        const flat = await client.command('HGETALL', HEALTH_STATE_KEY);
        // HGETALL answers [field, value, field, value, …]; the values are the stored transitions.
        if (Array.isArray(flat))
          applyNewerStored(
            member,
            flat.filter((v, i): v is string => i % 2 === 1 && typeof v === 'string'),
          );
      }
      return true;
    } catch {
      // Redis unreachable or slow: keep the pending transitions for the next request's sync.
      return false;
    } finally {
      await client?.close();
    }
  }
}
