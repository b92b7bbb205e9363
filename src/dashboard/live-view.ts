// Live view: polls /status once a second and keeps cards, banner, timeline and charts up to date.
import {
  ApiError,
  fetchStatus,
  type Api,
  type Drill,
  type PathStatus,
  type Status,
} from './api.ts';
import { byId, confirmDialog, h } from './dom.ts';
import { formatAgo } from './format.ts';
import { createPathCard, drilledPaths, updatePathCard, type PathCard } from './path-card.ts';
import { policyFileNotice, timeline, type RevisionEvent } from './timeline.ts';
import {
  paymentSuccess,
  redundancyBanner,
  trafficShares,
  type PaymentSample,
  type Sample,
} from './view-model.ts';

const POLL_MS = 1_000;
const HIDDEN_POLL_MS = 10_000;
const HISTORY_MS = 5 * 60_000;
const DRILL_MS = 10_000;

export interface LiveViewOptions {
  api: Api;
  canOperate: boolean;
  /** Told about every status document, e.g. so the editor notices a new revision. */
  onStatus?: (status: Status) => void;
  notify: (message: string, tone: 'ok' | 'bad') => void;
}

export class LiveView {
  readonly #options: LiveViewOptions;
  readonly #history = new Map<string, Sample[]>();
  readonly #cards = new Map<string, PathCard>();
  #drills: Drill[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #polling = false;
  #runningDrill: Drill | null = null;
  readonly #payments: PaymentSample[] = [];
  /** Policy revisions seen in /status or read from the history, for the timeline. */
  readonly #revisions = new Map<number, RevisionEvent>();
  #historyRevision: number | undefined;
  /** Invalid policy files seen, by when they were found: the timeline keeps them once the file is fixed. */
  readonly #fileErrors = new Map<string, NonNullable<Status['policyFile']>>();

  constructor(options: LiveViewOptions) {
    this.#options = options;
  }

  start(): void {
    document.addEventListener('visibilitychange', () => {
      if (document.hidden || this.#stopped || this.#polling) return;
      clearTimeout(this.#timer);
      void this.#tick();
    });
    void this.#tick();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    this.#polling = true;
    try {
      const status = await fetchStatus();
      this.#render(status);
      byId('connection').textContent = `live · updated ${new Date().toLocaleTimeString()}`;
      byId('connection').dataset.tone = 'ok';
      this.#options.onStatus?.(status);
    } catch (error) {
      byId('connection').textContent = `gateway unreachable: ${(error as Error).message}`;
      byId('connection').dataset.tone = 'bad';
    } finally {
      this.#polling = false;
    }
    // A tab nobody looks at polls slowly; it catches up on the first poll after it is shown again.
    if (!this.#stopped)
      this.#timer = setTimeout(() => void this.#tick(), document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }

  #render(status: Status): void {
    const now = Date.now();
    this.#runningDrill = status.drills?.running ?? null;
    const banner = redundancyBanner(status.redundancy, status.sharedEgress);
    const bannerElement = byId('redundancy-banner');
    bannerElement.dataset.tone = banner.tone;
    bannerElement.dataset.level = banner.level;
    bannerElement.textContent = banner.text;

    const fileNotice = policyFileNotice(status.policyFile, now);
    const fileElement = byId('policy-file');
    fileElement.hidden = fileNotice === null;
    fileElement.textContent = fileNotice ?? '';
    if (status.payments) {
      this.#payments.push({ at: now, ...status.payments });
      while (this.#payments.length > 0 && this.#payments[0]!.at < now - HISTORY_MS)
        this.#payments.shift();
    }
    const payments = paymentSuccess(this.#payments, now);
    const paymentsElement = byId('payment-success');
    paymentsElement.dataset.tone = payments.tone;
    paymentsElement.textContent = payments.text;
    this.#notePolicy(status);
    const fileError = status.policyFile?.lastError;
    if (fileError && status.policyFile)
      this.#fileErrors.set(`${fileError.at} ${status.policyFile.file ?? ''}`, {
        ...status.policyFile,
      });

    const cards = byId('path-cards');
    const ids = new Set(status.paths.map((p) => p.id));
    for (const [id, card] of this.#cards) {
      if (!ids.has(id)) {
        card.root.remove();
        this.#cards.delete(id);
      }
    }
    for (const path of status.paths) this.#record(path, now);
    const shares = trafficShares(
      new Map(status.paths.map((p) => [p.id, this.#history.get(p.id) ?? []])),
      now,
    );
    for (const path of status.paths) {
      const samples = this.#history.get(path.id) ?? [];
      let card = this.#cards.get(path.id);
      if (!card) {
        const id = path.id;
        card = createPathCard(id, {
          drillMs: DRILL_MS,
          canOperate: this.#options.canOperate,
          onDrillClick: () =>
            void (this.#runningDrill && drilledPaths(this.#runningDrill).includes(id)
              ? this.#stopDrill()
              : this.#drill(id)),
        });
        this.#cards.set(path.id, card);
      }
      cards.append(card.root); // keeps the policy's order
      updatePathCard(
        card,
        path,
        samples,
        now,
        status.drills?.running ?? null,
        shares.get(path.id) ?? { share: null, perSecond: null },
        HISTORY_MS,
      );
    }

    const drills = [
      ...(status.drills?.running ? [status.drills.running] : []),
      ...(status.drills?.recent ?? []),
      ...this.#drills,
    ];
    const events = timeline(status.paths, drills, now, undefined, {
      revisions: [...this.#revisions.values()],
      fileErrors: [...this.#fileErrors.values()],
    });
    byId('timeline').replaceChildren(
      ...(events.length === 0
        ? [h('li', { class: 'empty' }, 'No outages, drills or policy changes in the last hour.')]
        : events.map((e) =>
            h(
              'li',
              { 'data-tone': e.tone, 'data-kind': e.kind },
              h('time', {}, new Date(e.at).toLocaleTimeString()),
              ' ',
              e.text,
              h('span', { class: 'ago' }, ` · ${formatAgo(e.at, now)}`),
            ),
          )),
    );
  }

  /** Keeps the revisions for the timeline; reads the history (applies, reloads, rollbacks) when the revision moves. */
  #notePolicy(status: Status): void {
    const { revision, appliedAt, source } = status.policy;
    if (revision === undefined) return;
    if (appliedAt && !this.#revisions.has(revision))
      this.#revisions.set(revision, { revision, appliedAt, source: source ?? 'api' });
    if (this.#historyRevision === revision) return;
    this.#historyRevision = revision;
    this.#options.api.history().then(
      ({ revisions }) => {
        for (const r of revisions.slice(0, 20))
          this.#revisions.set(r.revision, {
            revision: r.revision,
            appliedAt: r.appliedAt,
            source: r.source,
            actor: r.actor,
          });
      },
      () => {
        this.#historyRevision = undefined; // try again on the next poll
      },
    );
  }

  #record(path: PathStatus, now: number): Sample[] {
    const samples = this.#history.get(path.id) ?? [];
    samples.push({
      at: now,
      requests: path.requests,
      failures: path.failures,
      p50: path.latencyMs.p50,
      p99: path.latencyMs.p99,
    });
    while (samples.length > 0 && samples[0]!.at < now - HISTORY_MS) samples.shift();
    this.#history.set(path.id, samples);
    return samples;
  }

  async #stopDrill(): Promise<void> {
    try {
      const { stopped } = await this.#options.api.stopDrill();
      this.#options.notify(stopped ? `${stopped} stopped` : 'no drill was running', 'ok');
    } catch (error) {
      this.#options.notify(
        error instanceof ApiError
          ? `cannot stop the drill: ${error.message} (${error.code})`
          : String(error),
        'bad',
      );
    }
  }

  async #drill(pathId: string): Promise<void> {
    const ok = await confirmDialog(
      `Drill ${pathId}?`,
      `${pathId} will be isolated (breaker held open) for ${DRILL_MS / 1000} s while payments continue on the other paths. The drill stops at once if a request fails.`,
      `Isolate ${pathId} for ${DRILL_MS / 1000} s`,
    );
    if (!ok) return;
    try {
      const drill = await this.#options.api.drill(pathId, DRILL_MS);
      this.#drills = [drill, ...this.#drills].slice(0, 20);
      this.#options.notify(`${drill.id} started on ${pathId}`, 'ok');
    } catch (error) {
      this.#options.notify(
        error instanceof ApiError
          ? `drill refused: ${error.message} (${error.code})`
          : String(error),
        'bad',
      );
    }
  }
}
