// Lint for the TypeScript sources; generated protobuf code and build output are skipped.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'bench/out/', '.esbuild/', '.serverless/', 'proto/gen/', 'scripts/consul-build/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { globals: globals.node, sourceType: 'commonjs' },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      // lib/ must not reach into the handlers.
      'no-restricted-imports': ['error', { patterns: ['**/functions/**', '../functions/*'] }],
    },
  },
);
