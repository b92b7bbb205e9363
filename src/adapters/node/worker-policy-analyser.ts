import { Worker } from 'node:worker_threads';
import type { Logger } from '../../core/logger.ts';
import type { PolicyAnalysis } from '../../core/admin/policy-analysis.ts';
import type { Policy } from '../../core/policy/schema.ts';

/** How long one parse may take in the worker before it is given up (and the worker replaced). */
export const POLICY_PARSE_TIMEOUT_MS = 10_000;
/** An idle worker is stopped after this long: it holds tens of MB that a gateway needs only while someone edits. */
export const POLICY_PARSER_IDLE_MS = 30_000;

interface Job {
  id: number;
  text: string;
  running: Policy;
  resolve: (result: PolicyAnalysis) => void;
}

/**
 * Parses, validates, hashes and diffs policy documents sent to the admin API (analysePolicy) in a
 * worker thread, so that however long a document takes (within the parser's limits, or beyond
 * them through a bug) the event loop that carries payments is never held up. One worker, one document at a time, in arrival order;
 * a parse running longer than `timeoutMs` answers `limit: time` and the worker is replaced.
 * The worker starts with the first document and stops after `idleMs` without one.
 */
export class WorkerPolicyAnalyser {
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #logger: Logger | undefined;
  readonly #waiting: Job[] = [];
  #worker: Worker | undefined;
  #running: { job: Job; timer: NodeJS.Timeout } | undefined;
  #nextId = 1;
  #closed = false;

  constructor(options: { timeoutMs?: number; idleMs?: number; logger?: Logger } = {}) {
    this.#timeoutMs = options.timeoutMs ?? POLICY_PARSE_TIMEOUT_MS;
    this.#idleMs = options.idleMs ?? POLICY_PARSER_IDLE_MS;
    this.#logger = options.logger;
  }

  analyse(text: string, running: Policy): Promise<PolicyAnalysis> {
    if (this.#closed)
      return Promise.resolve({
        ok: false,
        issues: [{ path: '', message: 'the policy parser is shut down' }],
      });
    return new Promise((resolve) => {
      this.#waiting.push({ id: this.#nextId++, text, running, resolve });
      this.#pump();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const worker = this.#worker;
    this.#worker = undefined;
    this.#finish({ ok: false, issues: [{ path: '', message: 'the policy parser is shut down' }] });
    for (const job of this.#waiting.splice(0))
      job.resolve({ ok: false, issues: [{ path: '', message: 'the policy parser is shut down' }] });
    await worker?.terminate();
  }

  /** Whether a worker thread is running now. */
  get started(): boolean {
    return this.#worker !== undefined;
  }

  #pump(): void {
    if (this.#running || this.#closed) return;
    clearTimeout(this.#idleTimer);
    const job = this.#waiting.shift();
    if (!job) {
      if (this.#worker) {
        this.#idleTimer = setTimeout(() => this.#replaceWorker(), this.#idleMs);
        this.#idleTimer.unref();
      }
      return;
    }
    const worker = this.#ensureWorker();
    const timer = setTimeout(() => {
      this.#logger?.warn(
        { event: 'policy_parse_timeout', timeoutMs: this.#timeoutMs },
        `a policy document took longer than ${this.#timeoutMs} ms to parse; worker replaced`,
      );
      this.#replaceWorker();
      this.#finish({
        ok: false,
        issues: [
          { path: '', message: `parsing the policy took longer than ${this.#timeoutMs} ms` },
        ],
        limit: { name: 'time', max: this.#timeoutMs },
      });
    }, this.#timeoutMs);
    this.#running = { job, timer };
    worker.postMessage({ id: job.id, text: job.text, running: job.running });
  }

  #finish(result: PolicyAnalysis): void {
    const running = this.#running;
    if (!running) return;
    clearTimeout(running.timer);
    this.#running = undefined;
    running.job.resolve(result);
    this.#pump();
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    // A heap cap: a document the limits somehow miss fails in the worker, not in the gateway.
    const worker = new Worker(new URL('./policy-analysis-worker.ts', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 8 },
    });
    worker.unref(); // an idle parser never keeps the process alive
    worker.on('message', (message: { id: number; result: PolicyAnalysis }) => {
      if (this.#running?.job.id === message.id) this.#finish(message.result);
    });
    worker.on('error', (error) => {
      this.#logger?.error(
        { event: 'policy_parse_worker_failed', err: String(error) },
        'the policy parser worker failed; it is restarted for the next document',
      );
      if (this.#worker === worker) this.#worker = undefined;
      this.#finish({
        ok: false,
        issues: [{ path: '', message: `the policy parser failed: ${error.message}` }],
      });
    });
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return; // replaced or closed by us
      this.#worker = undefined;
      this.#finish({
        ok: false,
        issues: [{ path: '', message: `the policy parser stopped (exit code ${code})` }],
      });
    });
    this.#worker = worker;
    return worker;
  }

  #replaceWorker(): void {
    const worker = this.#worker;
    this.#worker = undefined;
    void worker?.terminate();
  }
}
