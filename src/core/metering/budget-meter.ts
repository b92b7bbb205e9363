import { silentLogger, type Logger } from '../logger.ts';
import type { Policy, RouteConfig } from '../policy/schema.ts';

export const BUDGET_THRESHOLDS = [80, 100] as const;

export interface ClassUsage {
  requests: number;
  bytes: number;
}

/** One path's usage this calendar month (UTC), and its budget when it has one. */
export interface PathUsage {
  path: string;
  /** `YYYY-MM` (UTC). */
  month: string;
  requests: number;
  bytes: number;
  byClass: Record<string, ClassUsage>;
  budget: {
    requestsPerMonth: number | null;
    bytesPerMonth: number | null;
    overBudgetClasses: string[];
  } | null;
  /** Highest share of a limit used, 0..∞ (1 = 100 %); null without a budget. */
  usedRatio: number | null;
  overBudget: boolean;
  /** Thresholds (80, 100) already announced this month. */
  alerted: number[];
}

export interface BudgetWarning {
  event: 'budget_warning';
  path: string;
  month: string;
  threshold: (typeof BUDGET_THRESHOLDS)[number];
  usedRatio: number;
  requests: number;
  bytes: number;
  requestsPerMonth: number | null;
  bytesPerMonth: number | null;
}

export interface BudgetMeterOptions {
  policy: () => Policy;
  /** Starts sending a warning to one webhook URL; must not throw. */
  notify: (url: string, warning: BudgetWarning) => void;
  logger?: Logger;
  now?: () => Date;
}

/**
 * Usage per path (requests and bytes, by route class) for metered paths such as an LTE link.
 * Warns through the path's budget webhooks at 80 % and 100 % (once each per month) and, once a
 * path is over budget, lets it serve only the route classes its budget still allows.
 * Counts are per instance and in memory; they restart at 0 with the process and each month.
 */
export class BudgetMeter {
  readonly #options: BudgetMeterOptions;
  readonly #logger: Logger;
  #monthKey = '';
  #monthStart = 0;
  #monthEnd = 0;
  readonly #usage = new Map<
    string,
    {
      month: string;
      requests: number;
      bytes: number;
      byClass: Map<string, ClassUsage>;
      alerted: Set<number>;
    }
  >();

  constructor(options: BudgetMeterOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** The UTC month (`2026-11`), formatted once per month rather than on every request. */
  #month(): string {
    const now = this.#options.now ? this.#options.now().getTime() : Date.now();
    if (now < this.#monthStart || now >= this.#monthEnd) {
      const date = new Date(now);
      this.#monthStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
      this.#monthEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
      this.#monthKey = date.toISOString().slice(0, 7);
    }
    return this.#monthKey;
  }

  #entry(pathId: string) {
    const month = this.#month();
    let entry = this.#usage.get(pathId);
    if (!entry || entry.month !== month) {
      entry = { month, requests: 0, bytes: 0, byClass: new Map(), alerted: new Set() };
      this.#usage.set(pathId, entry);
    }
    return entry;
  }

  record(pathId: string, routeClass: string, bytes: number): void {
    const entry = this.#entry(pathId);
    entry.requests++;
    entry.bytes += bytes;
    const perClass = entry.byClass.get(routeClass) ?? { requests: 0, bytes: 0 };
    perClass.requests++;
    perClass.bytes += bytes;
    entry.byClass.set(routeClass, perClass);
    const config = this.#options.policy().paths.find((p) => p.id === pathId);
    const budget = config?.budget;
    if (!budget) return;
    const ratio = usedRatio(entry, budget);
    for (const threshold of BUDGET_THRESHOLDS) {
      if (ratio * 100 < threshold || entry.alerted.has(threshold)) continue;
      entry.alerted.add(threshold);
      const warning: BudgetWarning = {
        event: 'budget_warning',
        path: pathId,
        month: entry.month,
        threshold,
        usedRatio: Math.round(ratio * 1000) / 1000,
        requests: entry.requests,
        bytes: entry.bytes,
        requestsPerMonth: budget.requestsPerMonth ?? null,
        bytesPerMonth: budget.bytesPerMonth ?? null,
      };
      this.#logger.warn(
        { ...warning },
        `path ${pathId} has used ${threshold} % of its monthly budget`,
      );
      for (const url of budget.webhooks) this.#options.notify(url, warning);
    }
  }

  /** False when the path is over budget and the route's class is not among those it still serves. */
  allows(pathId: string, route: RouteConfig): boolean {
    const budget = this.#options.policy().paths.find((p) => p.id === pathId)?.budget;
    if (!budget) return true;
    if (usedRatio(this.#entry(pathId), budget) < 1) return true;
    return budget.overBudgetClasses.includes(route.class);
  }

  usage(): PathUsage[] {
    return this.#options.policy().paths.map((path) => {
      const entry = this.#entry(path.id);
      const budget = path.budget;
      const ratio = budget ? usedRatio(entry, budget) : null;
      return {
        path: path.id,
        month: entry.month,
        requests: entry.requests,
        bytes: entry.bytes,
        byClass: Object.fromEntries(entry.byClass),
        budget: budget
          ? {
              requestsPerMonth: budget.requestsPerMonth ?? null,
              bytesPerMonth: budget.bytesPerMonth ?? null,
              overBudgetClasses: budget.overBudgetClasses,
            }
          : null,
        usedRatio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
        overBudget: ratio !== null && ratio >= 1,
        alerted: [...entry.alerted],
      };
    });
  }
}

function usedRatio(
  entry: { requests: number; bytes: number },
  budget: { requestsPerMonth?: number | undefined; bytesPerMonth?: number | undefined },
): number {
  return Math.max(
    budget.requestsPerMonth ? entry.requests / budget.requestsPerMonth : 0,
    budget.bytesPerMonth ? entry.bytes / budget.bytesPerMonth : 0,
  );
}
