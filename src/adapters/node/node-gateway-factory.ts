import type { GatewayFactory } from '../../core/admin/policy-control.ts';
import type { EgressProbe } from '../../core/egress/egress-probe.ts';
import { Gateway } from '../../core/gateway.ts';
import type { HealthStore } from '../../core/health/health-store.ts';
import type { Logger } from '../../core/logger.ts';
import type { BudgetMeter } from '../../core/metering/budget-meter.ts';
import type { InterfaceAddresses } from './interface-addresses.ts';
import { OpossumBreaker } from './opossum-breaker.ts';
import type { PrometheusMetrics } from './metrics.ts';
import type { PathResolver } from './path-resolver.ts';
import { createUndiciTransport } from './undici-transport.ts';

export interface NodeGatewayParts {
  logger: Logger;
  healthStore: HealthStore | undefined;
  instanceId: string | undefined;
  egressProbe: EgressProbe | undefined;
  interfaceAddresses: InterfaceAddresses;
  /** Each path's resolver, for /status; a reload's new transport replaces its path's entry. */
  resolvers: Map<string, PathResolver>;
}

/**
 * Gateways of the Node runtime: undici transports and opossum breakers per path, feeding the
 * metrics and the log; the budget meter decides which paths a route may use.
 */
export function nodeGatewayFactory(
  parts: NodeGatewayParts,
): (ops: { metrics: PrometheusMetrics; meter: BudgetMeter }) => GatewayFactory {
  const { logger, healthStore, instanceId, egressProbe, interfaceAddresses, resolvers } = parts;
  return ({ metrics, meter }) =>
    (policy, policyHash, previous) =>
      new Gateway({
        policy,
        policyHash,
        pathAllowed: (pathId, route) => meter.allows(pathId, route),
        ...(previous ? { previous } : {}),
        ...(healthStore ? { healthStore } : {}),
        ...(instanceId ? { instanceId } : {}),
        logger,
        ...(egressProbe ? { egressProbe } : {}),
        transportFactory: (path) =>
          createUndiciTransport(path, {
            interfaceAddresses,
            onDnsChange: (change) => {
              if (change.kind === 'failing') {
                const still =
                  change.stillUsing.length > 0
                    ? `still using its last answer ${change.stillUsing.join(', ')}`
                    : 'no answer to use: the path fails until it resolves';
                logger.warn(
                  {
                    event: 'dns_failing',
                    path: change.pathId,
                    hostname: change.hostname,
                    code: change.error.code,
                    reason: change.error.message,
                    stillUsing: change.stillUsing,
                  },
                  `DNS for ${change.hostname} on path ${change.pathId} is failing (${still}): ${change.error.message}`,
                );
              } else {
                logger.info(
                  {
                    event: 'dns_recovered',
                    path: change.pathId,
                    hostname: change.hostname,
                    addresses: change.addresses,
                    failedForMs: change.failedForMs,
                  },
                  `DNS for ${change.hostname} on path ${change.pathId} answers again after ${change.failedForMs} ms`,
                );
              }
            },
            onResolver: (resolver) => {
              // A reload that rebuilt this path's transport keeps its last good answers (a resolver may be down right now).
              const previous = resolvers.get(resolver.pathId);
              if (previous) resolver.adopt(previous);
              resolvers.set(resolver.pathId, resolver);
            },
            onTlsFailure: (pathId, error) =>
              logger.error(
                {
                  event: 'upstream_tls_failed',
                  path: pathId,
                  code: error.code,
                  reason: error.message,
                },
                `TLS to the upstream on path ${pathId} failed; nothing was sent, failing over: ${error.message}`,
              ),
          }),
        breakerFactory: (config) => new OpossumBreaker(config),
        onAttempt: (record) => metrics.attempt(record),
        onProbe: (pathId, result) => metrics.probe(pathId, result.ok, result.latencyMs),
        onTransition: (pathId, t) => {
          metrics.transition(pathId, t);
          const fields = {
            event: 'breaker_transition',
            path: pathId,
            from: t.from,
            to: t.to,
            reason: t.reason,
          };
          if (t.to === 'closed') logger.info(fields, `path ${pathId} ${t.from} -> ${t.to}`);
          else logger.warn(fields, `path ${pathId} ${t.from} -> ${t.to}`);
        },
      });
}
