import type { AdaptiveTimeoutConfig, RouteConfig } from '../policy/schema.ts';
import type { LatencyWindow } from './latency-window.ts';
import type { SilenceRule } from './silence-watch.ts';

/**
 * The per-attempt timeout of a route that fixes none: the path's observed latency at a high
 * percentile times a factor, kept between a floor and a ceiling, so a path that normally answers
 * in 5 ms is given up after tens of milliseconds when it goes silent.
 *
 * Two guards against giving up too early: until `minSamples` latencies exist the ceiling applies,
 * and the timeout adapts only where giving up is harmless, i.e. where the processor honours
 * idempotency keys so the request can be asked again on another path under the same key. On a
 * route that cannot retry a sent request, an early timeout would turn a slow success into
 * `outcome_unknown`, so there the ceiling applies.
 */
export function adaptiveAttemptTimeoutMs(
  route: RouteConfig,
  latency: LatencyWindow,
  config: AdaptiveTimeoutConfig,
): number {
  if (route.attemptTimeoutMs !== undefined) return route.attemptTimeoutMs;
  if (!adapts(route, latency, config)) return config.ceilingMs;
  const observed = latency.quantile(config.percentile) ?? config.ceilingMs;
  return Math.round(Math.min(config.ceilingMs, Math.max(config.floorMs, observed * config.factor)));
}

/**
 * When an attempt on this path is given up early because the path fell silent (SilenceWatch):
 * after `silentPath.afterMs`, or the path's median latency times the factor if that is longer.
 * Only where the timeout adapts (the same guards), and undefined where it does not.
 */
export function silentPathRule(
  route: RouteConfig,
  latency: LatencyWindow,
  config: AdaptiveTimeoutConfig,
): SilenceRule | undefined {
  if (
    route.attemptTimeoutMs !== undefined ||
    !config.silentPath.enabled ||
    !adapts(route, latency, config)
  )
    return undefined;
  const median = latency.quantile(0.5) ?? 0;
  return {
    afterMs: Math.max(config.silentPath.afterMs, median * config.factor),
    waiting: config.silentPath.waiting,
  };
}

function adapts(
  route: RouteConfig,
  latency: LatencyWindow,
  config: AdaptiveTimeoutConfig,
): boolean {
  return route.idempotency.upstreamHonors && latency.count >= config.minSamples;
}
