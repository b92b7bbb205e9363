import { startNodeGateway, type RunningGateway } from '../../src/adapters/node/server.ts';
import { silentLogger, type Logger } from '../../src/core/logger.ts';
import { policyHash } from '../../src/core/policy/hash.ts';
import { PolicySchema, type PolicyInput } from '../../src/core/policy/schema.ts';
import { CarrierProxy } from '../../src/demo/carrier.ts';
import { SimulatedProcessor } from '../../src/demo/processor.ts';

/**
 * A processor behind three carriers (a, b, c on 127.0.1.1-3) for the detection and shared-health
 * tests, plus helpers to start gateways on it and send payments.
 */
export class DetectionRig {
  readonly processor: SimulatedProcessor;
  readonly carriers: Map<string, CarrierProxy>;
  readonly gateways: RunningGateway[] = [];

  private constructor(processor: SimulatedProcessor, carriers: Map<string, CarrierProxy>) {
    this.processor = processor;
    this.carriers = carriers;
  }

  static async start(pathIds = ['a', 'b', 'c']): Promise<DetectionRig> {
    const processor = await new SimulatedProcessor().start();
    const carriers = new Map<string, CarrierProxy>();
    for (const [i, id] of pathIds.entries()) {
      const carrier = new CarrierProxy({
        name: id,
        host: `127.0.1.${i + 1}`,
        target: { host: '127.0.0.1', port: processor.port },
      });
      carriers.set(id, await carrier.start());
    }
    return new DetectionRig(processor, carriers);
  }

  carrier(id: string): CarrierProxy {
    const carrier = this.carriers.get(id);
    if (!carrier) throw new Error(`no carrier ${id}`);
    return carrier;
  }

  /** A policy over the rig's carriers; `overrides` replace top-level sections. */
  policy(overrides: Partial<PolicyInput> = {}): PolicyInput {
    return {
      version: 1,
      paths: [...this.carriers.values()].map((c) => ({
        id: c.name,
        upstream: c.url,
        grade: 'hot' as const,
      })),
      breaker: { resetTimeoutMs: 60_000 },
      probe: { enabled: false },
      routes: [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: [...this.carriers.keys()],
          attemptTimeoutMs: 2_000,
          idempotency: { upstreamHonors: true },
        },
      ],
      ...overrides,
    };
  }

  async gateway(
    policy: PolicyInput,
    options: {
      redisUrl?: string;
      instanceId?: string;
      probes?: boolean;
      warmCodePaths?: boolean;
      /** Default: silent. */
      logger?: Logger;
    } = {},
  ): Promise<RunningGateway> {
    const parsed = PolicySchema.parse(policy);
    const gateway = await startNodeGateway({
      policy: parsed,
      policyHash: await policyHash(parsed),
      port: 0,
      logger: silentLogger,
      warmCodePaths: false,
      ...options,
    });
    this.gateways.push(gateway);
    return gateway;
  }

  async stop(): Promise<void> {
    await Promise.all(this.gateways.map((g) => g.close()));
    await Promise.all([...this.carriers.values()].map((c) => c.stop()));
    await this.processor.stop();
  }
}

export interface PaymentAnswer {
  status: number;
  path: string | null;
  attempts: number;
  body: string;
}

let nextReference = 1;

/** POSTs one payment with a fresh reference and idempotency key. */
export async function pay(gateway: RunningGateway, amount = 100): Promise<PaymentAnswer> {
  const reference = `ref-${process.pid}-${nextReference++}`;
  const response = await fetch(`${gateway.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `key-${reference}` },
    body: JSON.stringify({ amount, reference }),
  });
  return {
    status: response.status,
    path: response.headers.get('x-paypath-path'),
    attempts: Number(response.headers.get('x-paypath-attempts') ?? 0),
    body: await response.text(),
  };
}

export async function pathState(
  gateway: RunningGateway,
  pathId: string,
): Promise<string | undefined> {
  const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
    paths: { id: string; state: string }[];
  };
  return status.paths.find((p) => p.id === pathId)?.state;
}
