// Prometheus gauges read at scrape time from the running gateway, policy, resolvers and queue;
// the counters fed as requests happen are in metrics.ts.
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import type { BreakerState } from '../../core/breaker/breaker.ts';
import type { GatewayStatus } from '../../core/gateway-status.ts';
import { pathsCounted } from '../../core/health/redundancy.ts';
import type { PathUsage } from '../../core/metering/budget-meter.ts';

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];

export interface StateGaugeSources {
  /** Current gateway status, read at scrape time for breaker states and redundancy. */
  status: () => GatewayStatus;
  /** Current policy revision, whether the policy file last loaded cleanly, and its `redundancy.alertBelow`. */
  policy: () => { revision: number; hash: string; fileValid: boolean; alertBelow: number };
  /** Whether the Redis client is connected; only when Redis is configured. */
  redisConnected?: () => boolean;
  /** Per path usage and budgets (metered paths). */
  budgets?: () => PathUsage[];
  /** Paths the running policy drills on a schedule. Default: none. */
  drillPaths?: () => readonly string[];
}

/** Breaker, redundancy, egress, drill, Redis, policy and budget gauges. */
export function registerStateGauges(registers: Registry[], options: StateGaugeSources): void {
  new Gauge({
    name: 'paypath_breaker_state',
    help: 'Breaker state per path: 1 for the current state, 0 for the others.',
    labelNames: ['path', 'state'],
    registers,
    collect() {
      this.reset();
      for (const path of options.status().paths) {
        for (const state of BREAKER_STATES)
          this.set({ path: path.id, state }, path.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'paypath_redundancy_level',
    help: 'The redundancy level of /status (N+level): independent healthy paths proven within redundancy.provenWithinMs, minus one; -1 when no path is healthy.',
    registers,
    collect() {
      this.set(pathsCounted(options.status().redundancy.level) - 1);
    },
  });
  new Gauge({
    name: 'paypath_path_egress_shared',
    help: "Other paths that leave by this path's interface and next hop (0: its own); paths leaving alike count once for redundancy.",
    labelNames: ['path'],
    registers,
    collect() {
      this.reset();
      for (const path of options.status().paths)
        this.set({ path: path.id }, path.egress.sharedWith.length);
    },
  });
  new Gauge({
    name: 'paypath_path_egress_info',
    help: 'How each path leaves, from the last egress check (always 1): interface, next hop, source address and state (known, local, no_address, unroutable, unknown); a label is empty when not known.',
    labelNames: ['path', 'state', 'interface', 'gateway', 'source'],
    registers,
    collect() {
      this.reset();
      for (const { id, egress } of options.status().paths) {
        this.set(
          {
            path: id,
            state: egress.state,
            interface: egress.interface ?? '',
            gateway: egress.gateway ?? '',
            source: egress.source ?? '',
          },
          1,
        );
      }
    },
  });
  new Gauge({
    name: 'paypath_paths_healthy',
    help: 'Independent paths that are healthy (breaker closed, and not silent for redundancy.downAfterMs); paths sharing a shareRisk tag or an egress (interface and next hop) count once, as in paypath_redundancy_level.',
    registers,
    collect() {
      this.set(options.status().redundancy.healthy);
    },
  });
  new Gauge({
    name: 'paypath_redundancy_alert_below',
    help: "The running policy's redundancy.alertBelow: the redundancy webhook's belowAlert is true while paypath_redundancy_level + 1 is below it.",
    registers,
    collect() {
      this.set(options.policy().alertBelow);
    },
  });
  const drillPaths = options.drillPaths;
  new Gauge({
    name: 'paypath_drill_scheduled',
    help: 'Always 1, for each path the running policy drills on a schedule.',
    labelNames: ['path'],
    registers,
    collect() {
      this.reset();
      for (const path of drillPaths?.() ?? []) this.set({ path }, 1);
    },
  });
  const redisConnected = options.redisConnected;
  if (redisConnected) {
    new Gauge({
      name: 'paypath_redis_up',
      help: 'Whether the Redis client is connected (1) or not (0); payments go on, on local state, while it is 0.',
      registers,
      collect() {
        this.set(redisConnected() ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: 'paypath_policy_revision',
    help: 'Revision number of the running policy (increases with every apply, reload and rollback).',
    registers,
    collect() {
      this.set(options.policy().revision);
    },
  });
  new Gauge({
    name: 'paypath_policy_info',
    help: 'Always 1; the hash label identifies the running policy.',
    labelNames: ['hash'],
    registers,
    collect() {
      this.reset();
      this.set({ hash: options.policy().hash }, 1);
    },
  });
  const budgets = options.budgets;
  if (budgets) {
    new Gauge({
      name: 'paypath_path_budget_used_ratio',
      help: 'Share of its monthly budget a metered path has used (1 = 100 %); only paths with a budget.',
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        for (const usage of budgets())
          if (usage.usedRatio !== null) this.set({ path: usage.path }, usage.usedRatio);
      },
    });
  }
  new Gauge({
    name: 'paypath_policy_file_valid',
    help: '1 when the policy file last loaded cleanly, 0 while it is invalid (the running policy is kept).',
    registers,
    collect() {
      this.set(options.policy().fileValid ? 1 : 0);
    },
  });
}

export interface PathDnsSummary {
  path: string;
  names: { stale: boolean; addresses: string[]; ageMs?: number }[];
}

export interface QueueSummary {
  depth: number;
  oldestAgeMs: number | null;
}

/** Per-path DNS gauges (paths whose upstream is a host name), read from the resolvers at scrape time. */
export function registerDnsGauges(registers: Registry[], states: () => PathDnsSummary[]): void {
  new Gauge({
    name: 'paypath_dns_answer_available',
    help: "1 when the path has an answer for its upstream's host name to connect with (fresh or stale), else 0.",
    labelNames: ['path'],
    registers,
    collect() {
      this.reset();
      for (const state of states())
        this.set({ path: state.path }, state.names.every((n) => n.addresses.length > 0) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'paypath_dns_answer_stale',
    help: "1 when the path's answer is past its TTL and used only because its resolvers fail (stale-if-error), else 0.",
    labelNames: ['path'],
    registers,
    collect() {
      this.reset();
      for (const state of states())
        this.set({ path: state.path }, state.names.some((n) => n.stale) ? 1 : 0);
    },
  });
}

/** Store-and-forward queue gauges, read from the queue at scrape time. */
export function registerQueueGauges(
  registers: Registry[],
  stats: () => Promise<QueueSummary>,
): void {
  // One read per scrape, shared by the gauges; a queue that cannot answer leaves them unset.
  let pending: Promise<QueueSummary | undefined> | undefined;
  const read = () => {
    pending ??= stats()
      .catch(() => undefined)
      .finally(() => setTimeout(() => (pending = undefined), 0));
    return pending;
  };
  new Gauge({
    name: 'paypath_queue_depth',
    help: 'Requests waiting in the store-and-forward queue.',
    registers,
    async collect() {
      const s = await read();
      if (s) this.set(s.depth);
    },
  });
  new Gauge({
    name: 'paypath_queue_oldest_age_seconds',
    help: 'Age of the oldest queued request (0 when the queue is empty).',
    registers,
    async collect() {
      const s = await read();
      if (s) this.set((s.oldestAgeMs ?? 0) / 1000);
    },
  });
}

/**
 * prom-client's process and Node.js metrics under `paypath_` (paypath_process_cpu_seconds_total,
 * paypath_nodejs_eventloop_lag_seconds, …), without its `nodejs_active_*_total` gauges: gauges must
 * not end in `_total`, and the same counts are the sum of `nodejs_active_*` by type.
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'paypath_' });
  for (const metric of registry.getMetricsAsArray()) {
    if (/^paypath_nodejs_active_\w+_total$/.test(metric.name))
      registry.removeSingleMetric(metric.name);
  }
}
