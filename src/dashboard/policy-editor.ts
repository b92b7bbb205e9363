// Policy editor: the running policy as YAML in CodeMirror, validated by the gateway as you type,
// a diff before apply, apply with If-Match, history with rollback.
import { yaml as yamlLanguage } from '@codemirror/lang-yaml';
import { forceLinting, lintGutter, linter, type Diagnostic } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { stringify } from 'yaml';
import {
  ApiError,
  type Api,
  type DiffResult,
  type PolicyIssue,
  type RevisionInfo,
  type Status,
} from './api.ts';
import { byId, confirmDialog, h } from './dom.ts';
import { policyDiffTable } from './policy-diff-table.ts';
import { issueListItems, issueRange } from './policy-issues.ts';

export interface PolicyEditorOptions {
  api: Api;
  canOperate: boolean;
  notify: (message: string, tone: 'ok' | 'bad') => void;
}

export class PolicyEditor {
  readonly #options: PolicyEditorOptions;
  readonly #view: EditorView;
  #running: RevisionInfo | undefined;
  #loadedText = '';
  #pendingDiff: { text: string; diff: DiffResult } | undefined;

  constructor(options: PolicyEditorOptions) {
    this.#options = options;
    this.#view = new EditorView({
      parent: byId('policy-editor'),
      state: this.#state(''),
    });
    byId('review-button').addEventListener('click', () => void this.review());
    byId('reset-button').addEventListener('click', () => this.#setText(this.#loadedText));
    byId('apply-button').addEventListener('click', () => void this.apply());
    for (const id of ['review-button', 'reset-button', 'apply-button'])
      byId(id).hidden = !options.canOperate;
    byId('policy-readonly').hidden = options.canOperate;
  }

  #state(text: string): EditorState {
    return EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        yamlLanguage(),
        lintGutter(),
        linter((view) => this.#lint(view), { delay: 400 }),
        EditorState.readOnly.of(!this.#options.canOperate),
        EditorView.editable.of(this.#options.canOperate),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) this.#onEdit();
        }),
      ],
    });
  }

  get text(): string {
    return this.#view.state.doc.toString();
  }

  get dirty(): boolean {
    return this.text !== this.#loadedText;
  }

  /** Loads the running policy (and the history) from the gateway, replacing the editor's text. */
  async load(): Promise<void> {
    const current = await this.#options.api.policy();
    this.#running = current;
    this.#loadedText = stringify(current.policy, { lineWidth: 0 });
    this.#setText(this.#loadedText);
    this.#renderRunning();
    await this.loadHistory();
  }

  /** Called on every /status poll: picks up a revision applied elsewhere (file reload, CLI, rollback). */
  onStatus(status: Status): void {
    if (!this.#running || status.policy.hash === this.#running.hash) {
      byId('policy-stale').hidden = true;
      return;
    }
    if (this.dirty) {
      byId('policy-stale').hidden = false;
      byId('policy-stale').textContent =
        `A newer policy is running (revision ${status.policy.revision ?? '?'}, hash ${status.policy.hash}). Your edit is based on revision ${this.#running.revision}: reset to load it.`;
    } else {
      void this.load();
    }
  }

  #setText(text: string): void {
    this.#view.setState(this.#state(text));
    this.#pendingDiff = undefined;
    this.#renderDiff();
    forceLinting(this.#view);
  }

  #onEdit(): void {
    this.#pendingDiff = undefined;
    this.#renderDiff();
    byId('policy-validity').dataset.tone = 'muted';
    byId('policy-validity').textContent = 'checking…';
  }

  async #lint(view: EditorView): Promise<Diagnostic[]> {
    const text = view.state.doc.toString();
    const validity = byId('policy-validity');
    try {
      const result = await this.#options.api.validate(text);
      if (this.text !== text) return []; // edited meanwhile: the next run reports
      validity.dataset.tone = 'ok';
      validity.textContent = `valid · hash ${result.hash}${result.hash === this.#running?.hash ? ' (same as running)' : ''}`;
      this.#renderIssues([]);
      return [];
    } catch (error) {
      if (this.text !== text) return [];
      validity.dataset.tone = 'bad';
      if (!(error instanceof ApiError) || error.issues.length === 0) {
        validity.textContent =
          error instanceof ApiError
            ? `${error.code}: ${error.message}`
            : `cannot validate: ${String(error)}`;
        this.#renderIssues([]);
        return [];
      }
      validity.textContent = `${error.issues.length} problem${error.issues.length === 1 ? '' : 's'} (${error.code})`;
      this.#renderIssues(error.issues);
      return error.issues.map((issue) => ({
        ...issueRange(view.state.doc, issue),
        severity: 'error',
        source: error.code,
        message: `${issue.path ? `${issue.path}: ` : ''}${issue.message}`,
      }));
    }
  }

  #renderIssues(issues: PolicyIssue[]): void {
    byId('policy-issues').replaceChildren(
      ...issueListItems(issues, (issue) => this.#reveal(issue)),
    );
  }

  #reveal(issue: PolicyIssue): void {
    const range = issueRange(this.#view.state.doc, issue);
    this.#view.dispatch({ selection: { anchor: range.from }, scrollIntoView: true });
    this.#view.focus();
  }

  #renderRunning(): void {
    const r = this.#running;
    if (!r) return;
    byId('policy-meta').replaceChildren(
      h('span', { id: 'policy-revision', 'data-revision': r.revision }, `revision ${r.revision}`),
      ` · hash ${r.hash} · ${r.source}${r.restoredFrom !== null ? ` of revision ${r.restoredFrom}` : ''} by ${r.actor} · ${new Date(r.appliedAt).toLocaleString()}`,
    );
  }

  /** Asks the gateway for the diff between the running policy and the editor's text. */
  async review(): Promise<void> {
    const text = this.text;
    try {
      const diff = await this.#options.api.diff(text);
      this.#pendingDiff = { text, diff };
    } catch (error) {
      this.#pendingDiff = undefined;
      this.#options.notify(
        error instanceof ApiError ? `cannot diff: ${error.message}` : String(error),
        'bad',
      );
    }
    this.#renderDiff();
  }

  #renderDiff(): void {
    const panel = byId('diff-panel');
    const apply = byId<HTMLButtonElement>('apply-button');
    const pending = this.#pendingDiff;
    apply.disabled = !pending || !pending.diff.changed || pending.text !== this.text;
    if (!pending) {
      panel.replaceChildren(
        h(
          'p',
          { class: 'hint' },
          this.#options.canOperate
            ? 'Edit the policy, then review the changes before applying them.'
            : '',
        ),
      );
      return;
    }
    const { diff } = pending;
    if (!diff.changed) {
      panel.replaceChildren(h('p', { class: 'hint' }, 'No changes: this is the running policy.'));
      return;
    }
    panel.replaceChildren(...policyDiffTable(diff));
  }

  /** Applies the reviewed text with If-Match: the hash of the revision it was edited from. */
  async apply(): Promise<void> {
    const pending = this.#pendingDiff;
    const running = this.#running;
    if (!pending || !running || pending.text !== this.text) return;
    const ok = await confirmDialog(
      `Apply ${pending.diff.changes.length} change(s)?`,
      `The gateway switches to the new policy for new requests at once; requests in flight finish on the old one.`,
      'Apply',
    );
    if (!ok) return;
    try {
      const result = await this.#options.api.apply(pending.text, running.hash);
      this.#options.notify(
        result.applied
          ? `applied: revision ${result.revision} (hash ${result.hash})`
          : `nothing to apply: revision ${result.revision} already runs`,
        'ok',
      );
      await this.load();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'policy_stale') {
        this.#options.notify(
          `not applied: someone changed the policy since revision ${running.revision}. Reset to load the running policy and edit again.`,
          'bad',
        );
      } else {
        this.#options.notify(
          error instanceof ApiError
            ? `not applied: ${error.message} (${error.code})`
            : String(error),
          'bad',
        );
      }
    }
  }

  async loadHistory(): Promise<void> {
    const { current, revisions } = await this.#options.api.history();
    byId('history').replaceChildren(
      ...revisions.map((r) =>
        h(
          'tr',
          { 'data-revision': r.revision, class: r.revision === current ? 'current' : null },
          h('td', {}, String(r.revision)),
          h('td', {}, new Date(r.appliedAt).toLocaleString()),
          h('td', {}, r.actor),
          h('td', {}, `${r.source}${r.restoredFrom !== null ? ` of ${r.restoredFrom}` : ''}`),
          h('td', {}, h('code', {}, r.hash)),
          h(
            'td',
            {},
            r.revision === current
              ? 'running'
              : this.#options.canOperate
                ? h(
                    'button',
                    { type: 'button', onclick: () => void this.rollback(r.revision) },
                    'Roll back to this',
                  )
                : '',
          ),
        ),
      ),
    );
  }

  async rollback(revision: number): Promise<void> {
    const ok = await confirmDialog(
      `Roll back to revision ${revision}?`,
      `Its policy is applied again as a new revision.`,
      `Roll back to ${revision}`,
    );
    if (!ok) return;
    try {
      const result = await this.#options.api.rollback(revision);
      this.#options.notify(`rolled back: revision ${result.revision} restores ${revision}`, 'ok');
      await this.load();
    } catch (error) {
      this.#options.notify(
        error instanceof ApiError
          ? `rollback refused: ${error.message} (${error.code})`
          : String(error),
        'bad',
      );
    }
  }
}
