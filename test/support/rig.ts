import { silentLogger } from '../../src/core/logger.ts';
import { validatePolicyObject } from '../../src/core/policy/parse.ts';
import { policyHash } from '../../src/core/policy/hash.ts';
import type { Policy, PolicyInput } from '../../src/core/policy/schema.ts';
import { startNodeGateway, type RunningGateway } from '../../src/adapters/node/server.ts';
import { CarrierProxy, type CarrierMode } from '../../src/demo/carrier.ts';
import { SimulatedProcessor } from '../../src/demo/processor.ts';
import { until } from './poll.ts';

/** The three carriers of a store box, each on its own loopback address, and the source address the gateway binds for it. */
export const CARRIERS = [
  { id: 'kt-fiber', host: '127.0.1.1', bind: '127.0.0.2' },
  { id: 'skt-fiber', host: '127.0.1.2', bind: '127.0.0.3' },
  { id: 'lgu-lte', host: '127.0.1.3', bind: '127.0.0.4' },
] as const;

export type CarrierId = (typeof CARRIERS)[number]['id'];

export interface RigOptions {
  /** Changes to the payments route (the only route unless `policy` adds more). */
  route?: Partial<PolicyInput['routes'][number]>;
  breaker?: PolicyInput['breaker'];
  /** Final say over the policy document before it is validated. */
  policy?: (policy: PolicyInput) => PolicyInput;
  processorServiceTimeMs?: number;
  /** The processor closes a connection after this many answers (nginx's keepalive_requests). Default: no limit. */
  processorMaxRequestsPerSocket?: number;
}

export interface PaymentResult {
  reference: string;
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/**
 * A whole store-box set-up on loopback: simulated processor, three carrier fault proxies, and a
 * real gateway (Node adapter, undici, real sockets) in this process. The processor honours keys
 * only when every route of the policy says `upstreamHonors: true`.
 */
export class Rig {
  readonly processor: SimulatedProcessor;
  readonly carriers: Map<CarrierId, CarrierProxy>;
  readonly running: RunningGateway;
  readonly policy: Policy;

  private constructor(
    processor: SimulatedProcessor,
    carriers: Map<CarrierId, CarrierProxy>,
    running: RunningGateway,
    policy: Policy,
  ) {
    this.processor = processor;
    this.carriers = carriers;
    this.running = running;
    this.policy = policy;
  }

  static async start(options: RigOptions = {}): Promise<Rig> {
    const processor = await new SimulatedProcessor({
      serviceTimeMs: options.processorServiceTimeMs ?? 0,
      ...(options.processorMaxRequestsPerSocket !== undefined
        ? { maxRequestsPerSocket: options.processorMaxRequestsPerSocket }
        : {}),
    }).start();
    const carriers = new Map<CarrierId, CarrierProxy>();
    for (const c of CARRIERS) {
      carriers.set(
        c.id,
        await new CarrierProxy({
          name: c.id,
          host: c.host,
          target: { host: '127.0.0.1', port: processor.port },
        }).start(),
      );
    }
    let input: PolicyInput = {
      version: 1,
      paths: CARRIERS.map((c) => ({ id: c.id, upstream: carriers.get(c.id)!.url, bind: c.bind })),
      breaker: options.breaker ?? {
        windowMs: 10_000,
        errorThresholdPercentage: 50,
        volumeThreshold: 5,
        resetTimeoutMs: 1_000,
      },
      // These tests count the engine's own attempts; active probes (on by default) would open a cut
      // path before a payment meets it. Probes have their own tests (test/probes-and-alarms.test.ts).
      probe: { enabled: false },
      routes: [
        {
          id: 'payments',
          match: { method: 'POST', path: '/v1/payments' },
          class: 'payment',
          paths: CARRIERS.map((c) => c.id),
          attemptTimeoutMs: 300,
          deadlineMs: 5_000,
          idempotency: { header: 'Idempotency-Key', upstreamHonors: true },
          ...options.route,
        },
      ],
    };
    if (options.policy) input = options.policy(input);
    const result = validatePolicyObject(input);
    if (!result.ok) throw new Error(`rig policy invalid: ${JSON.stringify(result.issues)}`);
    // A processor that de-duplicates only where every route says it does, so a re-send on a route
    // with upstreamHonors: false shows as a second charge instead of being absorbed.
    processor.honorKeys = result.policy.routes.every((route) => route.idempotency.upstreamHonors);
    const running = await startNodeGateway({
      policy: result.policy,
      policyHash: await policyHash(result.policy),
      port: 0,
      logger: silentLogger,
      warmCodePaths: false,
    });
    return new Rig(processor, carriers, running, result.policy);
  }

  get url(): string {
    return this.running.url;
  }

  carrier(id: CarrierId): CarrierProxy {
    return this.carriers.get(id)!;
  }

  async cut(id: CarrierId, mode: CarrierMode): Promise<void> {
    await this.carrier(id).setMode(mode);
  }

  async restoreAll(): Promise<void> {
    for (const carrier of this.carriers.values()) await carrier.setMode({ mode: 'up' });
  }

  /** Resolves once nothing is on its way to the processor: see deliveredAndIdle. */
  async idle(): Promise<void> {
    await deliveredAndIdle(this.processor, this.carriers.values());
  }

  async pay(
    reference: string,
    options: { key?: string | null; path?: string; body?: unknown } = {},
  ): Promise<PaymentResult> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const key = options.key === undefined ? `key-${reference}` : options.key;
    if (key !== null) headers['idempotency-key'] = key;
    const response = await fetch(`${this.url}${options.path ?? '/v1/payments'}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(options.body ?? { amount: 4500, currency: 'KRW', reference }),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
    return { reference, status: response.status, body, headers: response.headers };
  }

  /**
   * Sends `count` payments, `concurrency` at a time, with unique references; `beforeIndex` runs
   * (awaited) just before payment i is sent, e.g. to cut a carrier mid-stream.
   */
  async stream(
    prefix: string,
    count: number,
    options: {
      concurrency?: number;
      key?: (i: number) => string | null;
      beforeIndex?: (i: number) => Promise<void> | void;
    } = {},
  ): Promise<PaymentResult[]> {
    const results: PaymentResult[] = [];
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        await options.beforeIndex?.(i);
        const reference = `${prefix}-${i}`;
        results[i] = await this.pay(reference, { key: options.key ? options.key(i) : undefined });
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 10 }, worker));
    return results;
  }

  async close(): Promise<void> {
    await this.running.close();
    for (const carrier of this.carriers.values()) await carrier.stop();
    await this.processor.stop();
  }
}

/** Payments that did not succeed (anything but 201). */
export function failed(results: PaymentResult[]): PaymentResult[] {
  return results.filter((r) => r.status !== 201);
}

/**
 * Resolves once nothing is on its way to the processor (no carrier holds a byte, the processor
 * handles no request) at two checks in a row. After a blackholed carrier is restored, its held
 * requests land late: waiting for this, rather than for a fixed time, counts a duplicate charge
 * they make however slow the machine is.
 */
export async function deliveredAndIdle(
  processor: SimulatedProcessor,
  carriers: Iterable<CarrierProxy>,
): Promise<void> {
  const all = [...carriers];
  let quietChecks = 0;
  await until(
    'the processor to be idle (nothing held by a carrier, no request in progress)',
    () => {
      const busy = processor.handling > 0 || all.some((c) => c.heldBytes > 0);
      quietChecks = busy ? 0 : quietChecks + 1;
      return quietChecks >= 2;
    },
    { timeoutMs: 10_000, intervalMs: 25 },
  );
}
