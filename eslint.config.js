// One lint setup for the whole repository. The layering rule keeps imports flowing down the package list of
// docs/ARCHITECTURE.md#layers: engine ← studio ← server ← web/cli; a lower layer never imports a higher one.
import tseslint from 'typescript-eslint';

const layers = ['engine', 'studio', 'server', 'web', 'cli'];

function forbidHigherLayers(layer) {
  const higher = layers.slice(layers.indexOf(layer) + 1);
  return {
    files: [`packages/${layer}/**/*.ts`, `packages/${layer}/**/*.tsx`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: higher.flatMap((name) => [
            {
              group: [`@ownlm/${name}`, `@ownlm/${name}/*`],
              message: `${layer} must not import ${name} (docs/ARCHITECTURE.md#layers).`,
            },
            {
              group: [`**/packages/${name}/**`, `../../${name}/**`, `../../../${name}/**`],
              message: `${layer} must not import ${name} (docs/ARCHITECTURE.md#layers).`,
            },
          ]),
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/build/**', '**/dist/**', '.ownlm/**', 'data/**', 'bench/out/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  ...layers.slice(0, -1).map(forbidHigherLayers),
  {
    // The server reaches URLs only through its outbound module, which refuses internal addresses
    // (packages/server/src/outbound/outbound.ts); tests may call their own loopback servers directly.
    files: ['packages/server/src/**/*.ts'],
    ignores: ['packages/server/src/outbound/**', '**/*.test.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        {
          name: 'fetch',
          message: 'fetch URLs with ctx.outbound (packages/server/src/outbound/outbound.ts).',
        },
      ],
    },
  },
);
