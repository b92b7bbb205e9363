import type { Policy } from '../policy/schema.ts';

export type PolicySource = 'startup' | 'file' | 'api' | 'rollback';

/** One applied policy: a monotonically increasing revision number, its hash, who applied it and how. */
export interface PolicyRevision {
  revision: number;
  hash: string;
  policy: Policy;
  appliedAt: string;
  actor: string;
  source: PolicySource;
  /** For a rollback: the revision whose policy was restored. */
  restoredFrom?: number;
}

/** Where applied policies are kept. In memory by default; history is bounded. */
export interface PolicyStore {
  current(): PolicyRevision;
  /** Records a newly applied policy under the next revision number and returns it. */
  record(entry: Omit<PolicyRevision, 'revision' | 'appliedAt'>): PolicyRevision;
  get(revision: number): PolicyRevision | undefined;
  /** Newest first. */
  history(): PolicyRevision[];
}

export const DEFAULT_HISTORY_KEPT = 50;

export class InMemoryPolicyStore implements PolicyStore {
  readonly #revisions: PolicyRevision[] = [];
  readonly #kept: number;
  #next = 1;

  constructor(
    initial: Omit<PolicyRevision, 'revision' | 'appliedAt'>,
    options: { kept?: number; now?: () => Date } = {},
  ) {
    this.#kept = Math.max(1, options.kept ?? DEFAULT_HISTORY_KEPT);
    this.#now = options.now ?? (() => new Date());
    this.record(initial);
  }

  readonly #now: () => Date;

  current(): PolicyRevision {
    return this.#revisions.at(-1)!;
  }

  record(entry: Omit<PolicyRevision, 'revision' | 'appliedAt'>): PolicyRevision {
    const revision: PolicyRevision = {
      ...entry,
      revision: this.#next++,
      appliedAt: this.#now().toISOString(),
    };
    this.#revisions.push(revision);
    if (this.#revisions.length > this.#kept) this.#revisions.shift();
    return revision;
  }

  get(revision: number): PolicyRevision | undefined {
    return this.#revisions.find((r) => r.revision === revision);
  }

  history(): PolicyRevision[] {
    return [...this.#revisions].reverse();
  }
}
