import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Tells subscribers when the box's addresses, links, routes or routing rules change, from one
 * `ip monitor` child process shared by all (started with the first subscriber, stopped with the
 * last). Bursts (an interface coming up changes several things at once) are told once, after
 * `settleMs`. Where `ip` is missing or dies, nothing is told; callers also check on a timer.
 */
export class NetworkWatch {
  readonly #ip: string;
  readonly #settleMs: number;
  readonly #listeners = new Set<() => void>();
  #child: ChildProcess | undefined;
  #settle: ReturnType<typeof setTimeout> | undefined;
  #restart: ReturnType<typeof setTimeout> | undefined;

  constructor(options: { ip?: string; settleMs?: number } = {}) {
    this.#ip = options.ip ?? 'ip';
    this.#settleMs = options.settleMs ?? 50;
  }

  subscribe(onChange: () => void): { close(): void } {
    this.#listeners.add(onChange);
    if (this.#child === undefined && this.#restart === undefined) this.#start();
    return {
      close: () => {
        this.#listeners.delete(onChange);
        if (this.#listeners.size === 0) this.#stop();
      },
    };
  }

  #start(): void {
    let child: ChildProcess;
    try {
      child = spawn(this.#ip, ['monitor', 'address', 'link', 'route', 'rule'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch {
      return;
    }
    this.#child = child;
    child.on('error', () => {}); // no `ip`: the timer-driven checks remain
    child.stdout?.on('data', () => {
      if (this.#settle !== undefined) return;
      this.#settle = setTimeout(() => {
        this.#settle = undefined;
        for (const listener of [...this.#listeners]) listener();
      }, this.#settleMs);
    });
    child.once('exit', () => {
      if (this.#child !== child) return;
      this.#child = undefined;
      // Died on its own: try again later while someone listens.
      if (this.#listeners.size > 0) {
        this.#restart = setTimeout(() => {
          this.#restart = undefined;
          if (this.#listeners.size > 0) this.#start();
        }, 5_000);
        this.#restart.unref();
      }
    });
    // The watch must never keep the process alive on its own.
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
  }

  #stop(): void {
    clearTimeout(this.#settle);
    clearTimeout(this.#restart);
    this.#settle = undefined;
    this.#restart = undefined;
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null) child.kill();
  }
}
