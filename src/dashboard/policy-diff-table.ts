// The table of a reviewed policy change: field, kind of change, old and new value.
import type { DiffResult } from './api.ts';
import { h } from './dom.ts';

/** The changes of `diff` against the running revision, as a heading and a table. */
export function policyDiffTable(diff: DiffResult): HTMLElement[] {
  return [
    h(
      'p',
      {},
      `${diff.changes.length} change${diff.changes.length === 1 ? '' : 's'} against revision ${diff.from.revision} (hash ${diff.from.hash} → ${diff.toHash}):`,
    ),
    h(
      'table',
      { class: 'diff' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'field'),
          h('th', {}, 'change'),
          h('th', {}, 'from'),
          h('th', {}, 'to'),
        ),
      ),
      h(
        'tbody',
        {},
        ...diff.changes.map((c) =>
          h(
            'tr',
            { 'data-op': c.op },
            h('td', {}, h('code', {}, c.field)),
            h('td', {}, c.op),
            h('td', {}, formatValue(c.from)),
            h('td', {}, formatValue(c.to)),
          ),
        ),
      ),
    ),
  ];
}

function formatValue(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
