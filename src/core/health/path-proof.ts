/**
 * When each path last proved it can carry payments: by answering real traffic, or by carrying
 * traffic while a drill isolated other paths. A backup that has not done either for longer than
 * the policy allows (`redundancy.provenWithinMs`) may not work when needed, so it does not count
 * as a spare.
 */
export interface PathProof {
  /** Epoch ms of the last passing drill during which this path carried traffic, or null. */
  drillPassedAt: number | null;
  /** Epoch ms of the last request this path answered, or null. */
  answeredAt: number | null;
  /** Epoch ms since the gateway has known the path: the clock for a path never proven. */
  knownSince: number;
}

export class PathProofs {
  readonly #byPath = new Map<string, PathProof>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  now(): number {
    return this.#now();
  }

  /** Starts the clock for paths not known yet; known ones keep their record. */
  track(pathIds: readonly string[]): void {
    for (const id of pathIds)
      if (!this.#byPath.has(id))
        this.#byPath.set(id, { drillPassedAt: null, answeredAt: null, knownSince: this.#now() });
  }

  answered(pathId: string): void {
    const proof = this.#byPath.get(pathId);
    if (proof) proof.answeredAt = this.#now();
  }

  drillPassed(pathId: string, at = this.#now()): void {
    const proof = this.#byPath.get(pathId);
    if (proof) proof.drillPassedAt = Math.max(proof.drillPassedAt ?? 0, at);
  }

  get(pathId: string): PathProof | undefined {
    const proof = this.#byPath.get(pathId);
    return proof ? { ...proof } : undefined;
  }

  /** Latest proof of any kind, or null. */
  provenAt(pathId: string): number | null {
    const proof = this.#byPath.get(pathId);
    if (!proof || (proof.answeredAt === null && proof.drillPassedAt === null)) return null;
    return Math.max(proof.answeredAt ?? 0, proof.drillPassedAt ?? 0);
  }

  /** Whether the path has gone unproven for longer than `maxAgeMs` (since it became known, if never proven). */
  overdue(pathId: string, maxAgeMs: number): boolean {
    const proof = this.#byPath.get(pathId);
    if (!proof) return false;
    return this.#now() - (this.provenAt(pathId) ?? proof.knownSince) > maxAgeMs;
  }
}
