// The second pass of `npm run lint`: import cycles in src through type-only imports too.
// import-x/no-cycle skips `import type` (it has no runtime effect), but a type cycle still ties two
// modules together, so this pass parses every import and export as a value one.
import tseslint from 'typescript-eslint';
import { noCycle } from './eslint.config.js';

const valueKind = (node) => {
  if (node.importKind === 'type') node.importKind = 'value';
  if (node.exportKind === 'type') node.exportKind = 'value';
};

const everyImportCounts = {
  meta: { name: 'every-import-counts' },
  parseForESLint(code, options) {
    const result = tseslint.parser.parseForESLint(code, options);
    for (const node of result.ast.body) {
      valueKind(node);
      for (const specifier of node.specifiers ?? []) valueKind(specifier);
    }
    return result;
  },
};

export default [
  {
    ...noCycle,
    languageOptions: { parser: everyImportCounts },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
  },
];
