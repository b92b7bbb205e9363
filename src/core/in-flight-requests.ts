import { once } from './once.ts';

/** Requests using something (a gateway of one policy) right now, and a wait until none does. */
export class InFlightRequests {
  #count = 0;
  #drainWaiters: (() => void)[] = [];

  /** Marks a request as in flight until the returned function is called. */
  enter(): () => void {
    this.#count++;
    return once(() => {
      this.#count--;
      if (this.#count === 0) for (const wake of this.#drainWaiters.splice(0)) wake();
    });
  }

  get count(): number {
    return this.#count;
  }

  /** Resolves once no request is in flight. */
  drained(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }
}
