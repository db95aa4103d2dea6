// ESLint flat config: typescript-eslint's type-aware rules over the sources and the tests
// (tsconfig.test.json includes both), Prettier owns the layout (no stylistic rules here).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/.work/', 'coverage/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The rules issue 11 asks for, on top of recommendedTypeChecked.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // The protocol decoders throw a plain Reject (no stack to capture) on hostile input and catch it a few lines up.
      '@typescript-eslint/only-throw-error': [
        'error',
        {
          allow: [
            { from: 'file', name: 'Reject', path: 'src/protocol/push.ts' },
            { from: 'file', name: 'Reject', path: 'src/protocol/goodbye.ts' },
            { from: 'file', name: 'Malformed', path: 'src/protocol/query.ts' },
          ],
        },
      ],
      // prom-client calls collect() with the metric as `this`; its owner needs another name there.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
      // tsc's noUnusedLocals/noUnusedParameters report the same (npm run lint runs tsc first).
      '@typescript-eslint/no-unused-vars': 'off',
      // `async` without `await` is deliberate here: a throw becomes a rejection and the signature says Promise.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read JSON answers and frames as `any` and assert their shape with expect(); typing each would add nothing.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
);
