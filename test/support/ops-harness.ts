import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { capturedLogger } from './captured-logger.ts';
import { startNodeGateway, type RunningGateway } from '../../src/adapters/node/server.ts';
import { policyHash } from '../../src/core/policy/hash.ts';
import { validatePolicyObject } from '../../src/core/policy/parse.ts';
import type { PolicyInput } from '../../src/core/policy/schema.ts';
import type { AdminTokenEntry } from '../../src/http/middleware/admin-auth/index.ts';
import { CarrierProxy } from '../../src/demo/carrier.ts';
import { SimulatedProcessor } from '../../src/demo/processor.ts';

export const PATH_IDS = ['kt-fiber', 'skt-fiber', 'lgu-lte'] as const;

export const TOKENS = {
  operator: 'op-token-0123456789abcdef',
  viewer: 'view-token-0123456789abcdef',
};

export const ADMIN_TOKENS: AdminTokenEntry[] = [
  { name: 'alice', role: 'operator', token: TOKENS.operator },
  { name: 'bob', role: 'viewer', token: TOKENS.viewer },
];

/** A processor behind three carriers on loopback, and a gateway with the ops surfaces, for the ops tests. */
export class OpsStack {
  readonly processor: SimulatedProcessor;
  readonly carriers: Map<string, CarrierProxy>;
  readonly gateway: RunningGateway;
  readonly dir: string;
  readonly policyFile: string;
  readonly auditFile: string;
  readonly logLines: string[];

  private constructor(init: {
    processor: SimulatedProcessor;
    carriers: Map<string, CarrierProxy>;
    gateway: RunningGateway;
    dir: string;
    policyFile: string;
    auditFile: string;
    logLines: string[];
  }) {
    this.processor = init.processor;
    this.carriers = init.carriers;
    this.gateway = init.gateway;
    this.dir = init.dir;
    this.policyFile = init.policyFile;
    this.auditFile = init.auditFile;
    this.logLines = init.logLines;
  }

  static async start(
    options: {
      watchPolicy?: boolean;
      edit?: (policy: PolicyInput) => void;
      processMetrics?: boolean;
      redisUrl?: string;
    } = {},
  ): Promise<OpsStack> {
    const dir = await mkdtemp(join(tmpdir(), 'paypath-ops-'));
    const processor = await new SimulatedProcessor({ serviceTimeMs: 2 }).start();
    const carriers = new Map<string, CarrierProxy>();
    for (const id of PATH_IDS) {
      carriers.set(
        id,
        await new CarrierProxy({
          name: id,
          host: '127.0.0.1',
          target: { host: '127.0.0.1', port: processor.port },
          preserveSource: false,
        }).start(),
      );
    }
    const input = basePolicy(carriers);
    options.edit?.(input);
    const policyFile = join(dir, 'policy.yaml');
    await writeFile(policyFile, stringify(input));
    const parsed = validatePolicyObject(input);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const { logger, lines: logLines } = capturedLogger();
    const auditFile = join(dir, 'audit.jsonl');
    const gateway = await startNodeGateway({
      policy: parsed.policy,
      policyHash: await policyHash(parsed.policy),
      port: 0,
      logger,
      policyFile,
      watchPolicy: options.watchPolicy ?? false,
      adminTokens: ADMIN_TOKENS,
      auditFile,
      processMetrics: options.processMetrics ?? false,
      warmCodePaths: false,
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    });
    return new OpsStack({ processor, carriers, gateway, dir, policyFile, auditFile, logLines });
  }

  /** The policy this stack started with, as an editable object. */
  policy(): PolicyInput {
    return basePolicy(this.carriers);
  }

  carrier(id: string): CarrierProxy {
    return this.carriers.get(id)!;
  }

  admin(
    method: string,
    path: string,
    init: { token?: string | null; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    const token = init.token === undefined ? TOKENS.operator : init.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    return fetch(`${this.gateway.url}${path}`, {
      method,
      headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
  }

  pay(reference: string, extra: Record<string, unknown> = {}): Promise<Response> {
    return fetch(`${this.gateway.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `key-${reference}` },
      body: JSON.stringify({ amount: 4500, currency: 'KRW', reference, ...extra }),
    });
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    await Promise.all([...this.carriers.values()].map((c) => c.stop()));
    await this.processor.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function basePolicy(carriers: Map<string, CarrierProxy>): PolicyInput {
  return {
    version: 1,
    paths: PATH_IDS.map((id) => ({
      id,
      upstream: carriers.get(id)!.url,
      grade: id === 'lgu-lte' ? 'warm' : 'hot',
      connectTimeoutMs: 500,
    })),
    breaker: {
      windowMs: 10_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
      resetTimeoutMs: 60_000,
    },
    routes: [
      {
        id: 'payments',
        match: { method: 'POST', path: '/v1/payments' },
        class: 'payment',
        paths: [...PATH_IDS],
        attemptTimeoutMs: 400,
        deadlineMs: 5_000,
        idempotency: { upstreamHonors: true },
      },
    ],
    admin: { upstreamAllowlist: PATH_IDS.map((id) => carriers.get(id)!.url) },
  };
}

/**
 * Sends `count` payments, `concurrency` at a time, calling `during` once a third have been sent.
 * The last `concurrency` payments wait until `during` has finished, so however long it takes,
 * payments are sent both while it runs and after it. Bounded by count.
 */
export async function paymentStream(
  stack: OpsStack,
  prefix: string,
  count: number,
  concurrency: number,
  during?: () => Promise<void>,
): Promise<{ statuses: number[]; duringDone: Promise<void> }> {
  const statuses: number[] = [];
  let next = 0;
  let duringDone: Promise<void> = Promise.resolve();
  const trigger = Math.floor(count / 3);
  const worker = async () => {
    while (next < count) {
      const i = next++;
      if (i === trigger && during) duringDone = during();
      if (i >= count - concurrency) await duringDone;
      const response = await stack.pay(`${prefix}-${i}`);
      await response.arrayBuffer();
      statuses.push(response.status);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await duringDone;
  return { statuses, duringDone };
}
