import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { silentLogger } from '../../src/core/logger.ts';
import { loadPolicyFile } from '../../src/adapters/node/policy-file.ts';
import { startNodeGateway, type NodeGatewayOptions, type RunningGateway } from '../../src/adapters/node/server.ts';
import { CarrierProxy } from '../../src/demo/carrier.ts';
import { SimulatedProcessor } from '../../src/demo/processor.ts';
import { freePort } from './redis-server.ts';

/**
 * A processor behind three carriers, and policy files pointing at them, for the exactly-once
 * tests. The gateway runs in process (startNodeGateway) or as a child process (`paypath serve`),
 * which a test can SIGKILL and start again.
 */
export class ExactlyOnceBench {
  readonly processor: SimulatedProcessor;
  readonly carriers: CarrierProxy[];
  readonly dir: string;

  private constructor(processor: SimulatedProcessor, carriers: CarrierProxy[]) {
    this.processor = processor;
    this.carriers = carriers;
    this.dir = mkdtempSync(join(tmpdir(), 'paypath-eo-'));
  }

  static async start(options: { serviceTimeMs?: number; carriers?: number } = {}): Promise<ExactlyOnceBench> {
    const processor = await new SimulatedProcessor({ serviceTimeMs: options.serviceTimeMs ?? 0 }).start();
    const carriers: CarrierProxy[] = [];
    for (let i = 0; i < (options.carriers ?? 3); i++) {
      carriers.push(await new CarrierProxy({ name: `c${i}`, host: '127.0.0.1', target: { host: '127.0.0.1', port: processor.port }, preserveSource: false }).start());
    }
    return new ExactlyOnceBench(processor, carriers);
  }

  /** A policy with paths p0..pN over the carriers; `routes` and `extra` are merged in as given. */
  writePolicy(routes: Record<string, unknown>[], extra: Record<string, unknown> = {}): string {
    const policy = {
      version: 1,
      paths: this.carriers.map((c, i) => ({ id: `p${i}`, upstream: c.url, connectTimeoutMs: 300 })),
      breaker: { windowMs: 10_000, errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs: 500 },
      routes,
      ...extra,
    };
    const file = join(this.dir, `policy-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify(policy));
    return file;
  }

  get pathIds(): string[] {
    return this.carriers.map((_, i) => `p${i}`);
  }

  async startInProcess(policyFile: string, redisUrl?: string, options: Partial<NodeGatewayOptions> = {}): Promise<RunningGateway> {
    const { policy, hash } = await loadPolicyFile(policyFile);
    return startNodeGateway({
      policy,
      policyHash: hash,
      port: 0,
      logger: process.env.EO_DEBUG ? { info: console.log, warn: console.log, error: console.log } : silentLogger,
      ...(redisUrl ? { redisUrl, queueKeys: [Buffer.from(TEST_QUEUE_KEY, 'base64')] } : {}),
      ...options,
    });
  }

  async setAll(mode: 'up' | 'refuse'): Promise<void> {
    await Promise.all(this.carriers.map((c) => c.setMode({ mode })));
  }

  async stop(): Promise<void> {
    await Promise.all(this.carriers.map((c) => c.stop()));
    await this.processor.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const BIN = fileURLToPath(new URL('../../bin/paypath.js', import.meta.url));

/** The queue key the tests' gateways seal queued requests with (base64 of 32 bytes; a test value, public). */
export const TEST_QUEUE_KEY = Buffer.alloc(32, 7).toString('base64');

/** `paypath serve` as a child process on a free port (process.execPath is Node 24 under vitest). */
export class GatewayProcess {
  readonly port: number;
  readonly #child: ChildProcess;
  output = '';

  private constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.#child = child;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** `env` adds to (or, with undefined values, removes from) the child's environment; by default it seals its queue with TEST_QUEUE_KEY. */
  static async start(policyFile: string, redisUrl: string, port?: number, env: Record<string, string | undefined> = {}): Promise<GatewayProcess> {
    const p = port ?? (await freePort());
    const childEnv: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'warn', PAYPATH_QUEUE_KEY: TEST_QUEUE_KEY, ...env };
    for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
    const child = spawn(process.execPath, [BIN, 'serve', '--policy', policyFile, '--port', String(p), '--redis', redisUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv,
    });
    const gateway = new GatewayProcess(p, child);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`paypath serve exited ${child.exitCode}: ${gateway.output}`);
      try {
        if ((await fetch(`${gateway.url}/healthz`)).ok) return gateway;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`paypath serve did not start: ${gateway.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** SIGKILL: no shutdown code runs, as in a crash or power cut. */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }
}

/** Polls `check` every `intervalMs` until it returns a value, at most `tries` times. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, tries = 100, intervalMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met after ${tries} tries`);
}

/**
 * An answer replayed from the gateway's own idempotency record: `Idempotent-Replayed: true` and
 * none of the attempt headers (`x-paypath-path`, `x-paypath-attempts`) that every forwarded answer
 * carries, the processor's own replay included. Pair it with the processor's request count.
 */
export function expectGatewayReplay(headers: Headers): void {
  expect(headers.get('idempotent-replayed')).toBe('true');
  expect(headers.get('x-paypath-path')).toBeNull();
  expect(headers.get('x-paypath-attempts')).toBeNull();
}
