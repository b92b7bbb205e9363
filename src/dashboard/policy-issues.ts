// Validation problems of the edited policy: where each points in the document, and their list.
import type { Text } from '@codemirror/state';
import type { PolicyIssue } from './api.ts';
import { h } from './dom.ts';

/** Where an issue points in the document: its line and column (1-based) when known, else the start. */
export function issueRange(doc: Text, issue: PolicyIssue): { from: number; to: number } {
  if (issue.line === undefined || issue.line < 1 || issue.line > doc.lines)
    return { from: 0, to: Math.min(doc.length, doc.line(1).to) };
  const line = doc.line(issue.line);
  const from = Math.min(line.to, line.from + Math.max(0, (issue.column ?? 1) - 1));
  return { from, to: from < line.to ? line.to : from };
}

/** One list item per issue; its button calls `reveal` to show the issue in the editor. */
export function issueListItems(
  issues: PolicyIssue[],
  reveal: (issue: PolicyIssue) => void,
): HTMLLIElement[] {
  return issues.map((issue) =>
    h(
      'li',
      { 'data-line': issue.line ?? null, 'data-path': issue.path },
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => reveal(issue) },
        issue.line !== undefined
          ? `line ${issue.line}${issue.column !== undefined ? `:${issue.column}` : ''}`
          : 'document',
      ),
      ' ',
      h('code', {}, issue.path || '(document)'),
      ` ${issue.message}`,
    ),
  );
}
