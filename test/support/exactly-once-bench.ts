import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { silentLogger } from '../../src/core/logger.ts';
import { loadPolicyFile } from '../../src/adapters/node/policy-file.ts';
import { startNodeGateway, type RunningGateway } from '../../src/adapters/node/server.ts';
import type { NodeGatewayOptions } from '../../src/adapters/node/server-options.ts';
import { CarrierProxy } from '../../src/demo/carrier.ts';
import { SimulatedProcessor } from '../../src/demo/processor.ts';
import { until, within } from './poll.ts';

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

  static async start(
    options: { serviceTimeMs?: number; carriers?: number } = {},
  ): Promise<ExactlyOnceBench> {
    const processor = await new SimulatedProcessor({
      serviceTimeMs: options.serviceTimeMs ?? 0,
    }).start();
    const carriers: CarrierProxy[] = [];
    for (let i = 0; i < (options.carriers ?? 3); i++) {
      carriers.push(
        await new CarrierProxy({
          name: `c${i}`,
          host: '127.0.0.1',
          target: { host: '127.0.0.1', port: processor.port },
          preserveSource: false,
        }).start(),
      );
    }
    return new ExactlyOnceBench(processor, carriers);
  }

  /** A policy with paths p0..pN over the carriers; `routes` and `extra` are merged in as given. */
  writePolicy(routes: Record<string, unknown>[], extra: Record<string, unknown> = {}): string {
    const policy = {
      version: 1,
      paths: this.carriers.map((c, i) => ({ id: `p${i}`, upstream: c.url, connectTimeoutMs: 300 })),
      breaker: {
        windowMs: 10_000,
        errorThresholdPercentage: 50,
        volumeThreshold: 3,
        resetTimeoutMs: 500,
      },
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

  async startInProcess(
    policyFile: string,
    redisUrl?: string,
    options: Partial<NodeGatewayOptions> = {},
  ): Promise<RunningGateway> {
    const { policy, hash } = await loadPolicyFile(policyFile);
    return startNodeGateway({
      policy,
      policyHash: hash,
      port: 0,
      logger: process.env.EO_DEBUG
        ? { info: console.log, warn: console.log, error: console.log }
        : silentLogger,
      ...(redisUrl ? { redisUrl, queueKeys: [Buffer.from(TEST_QUEUE_KEY, 'base64')] } : {}),
      warmCodePaths: false,
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

/** `paypath serve` as a child process (process.execPath is Node 24 under vitest). */
export class GatewayProcess {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #output: { text: string };

  private constructor(port: number, child: ChildProcess, output: { text: string }) {
    this.port = port;
    this.#child = child;
    this.#output = output;
  }

  get output(): string {
    return this.#output.text;
  }

  /**
   * Starts on a port the OS picks, or on `port` (a restart in place: a port another process still
   * holds is retried until free). `env` adds to (or, with undefined values, removes from) the
   * child's environment; by default it seals its queue with TEST_QUEUE_KEY.
   */
  static async start(
    policyFile: string,
    redisUrl: string,
    port = 0,
    env: Record<string, string | undefined> = {},
  ): Promise<GatewayProcess> {
    let failure = '';
    return until(
      `paypath serve to listen${port ? ` on port ${port}` : ''}`,
      () =>
        GatewayProcess.#spawn(policyFile, redisUrl, port, env).catch((error: Error) => {
          if (port === 0 || !error.message.includes('EADDRINUSE')) throw error;
          failure = error.message;
          return undefined;
        }),
      { timeoutMs: 15_000, intervalMs: 100, state: () => failure },
    );
  }

  static async #spawn(
    policyFile: string,
    redisUrl: string,
    port: number,
    env: Record<string, string | undefined>,
  ): Promise<GatewayProcess> {
    // info, for the line saying where it listens; the rest of its output is kept for failures.
    const childEnv: Record<string, string | undefined> = {
      ...process.env,
      LOG_LEVEL: 'info',
      PAYPATH_QUEUE_KEY: TEST_QUEUE_KEY,
      ...env,
    };
    for (const [name, value] of Object.entries(childEnv))
      if (value === undefined) delete childEnv[name];
    const child = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--policy',
        policyFile,
        '--port',
        String(port),
        '--redis',
        redisUrl,
        '--no-warm-up',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: childEnv,
      },
    );
    const output = { text: '' };
    const keep = (d: Buffer) => (output.text = (output.text + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const listening = await within(
      'paypath serve to say where it listens',
      new Promise<number>((resolve, reject) => {
        const onData = () => {
          const match = /paypath listening on http:\/\/[\d.]+:(\d+)/.exec(output.text);
          if (match) {
            child.stdout!.off('data', onData);
            resolve(Number(match[1]));
          }
        };
        child.stdout!.on('data', onData);
        child.once('exit', (code) =>
          reject(new Error(`paypath serve exited ${code}: ${output.text}`)),
        );
      }),
      15_000,
    ).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    return new GatewayProcess(listening, child, output);
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
