// Lint runs as part of `npm test`. src/core must stay runtime-neutral (Web APIs only) so the same
// engine runs on Node and on Cloudflare Workers; the restricted-imports rule enforces that.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

/**
 * Layers depend downwards only: a cycle means two modules that cannot be read (or loaded) apart.
 * Imports name their .ts files, so Node's own resolution finds them. This rule skips type-only
 * imports; eslint.cycles.config.js (the second pass of `npm run lint`) counts those too.
 */
export const noCycle = {
  files: ['src/**/*.ts'],
  plugins: { 'import-x': importX },
  settings: {
    'import-x/extensions': ['.ts', '.js'],
    'import-x/resolver-next': [createNodeResolver()],
  },
  rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.wrangler/**', 'coverage/**', 'artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  noCycle,
  {
    // A module that outgrows 300 lines has taken on a second job: split it by role.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: { 'max-lines': ['error', { max: 300 }] },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*'],
              message: 'src/core uses Web APIs only; put Node code in src/adapters/node.',
            },
            {
              group: ['undici', 'ioredis', '@hono/node-server'],
              message: 'src/core is runtime-neutral; inject this from an adapter.',
            },
            {
              group: ['**/adapters/**', '**/http/**'],
              message: 'src/core must not depend on outer layers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
