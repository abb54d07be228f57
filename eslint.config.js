// ESLint flat config: typescript-eslint with the type-aware promise rules a proxy cannot do
// without, eslint-plugin-n for Node rules, and the layering of STYLE.md §B as import bans.
import tseslint from 'typescript-eslint'
import n from 'eslint-plugin-n'

const layer = (folder, banned) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: banned.map((b) => ({
          group: [`**/${b}/*`, `**/${b}.ts`],
          message: `src/${folder} must not import from ${b} (STYLE.md §B dependency direction)`,
          allowTypeImports: true,
        })),
      },
    ],
  },
})

const ALL = [
  'config',
  'router',
  'snapshot',
  'proxy',
  'upstream',
  'discovery',
  'etcd',
  'server',
  'lifecycle',
  'admin',
  'cli',
  'gateway',
]

export default tseslint.config(
  {
    ignores: [
      'build/**',
      'dist/**',
      'coverage/**',
      'node_modules/**',
      'bench/**',
      'examples/**',
      '*.config.js',
    ],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { n },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unnecessary-condition': 'warn',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'n/prefer-node-protocol': 'error',
      'n/no-process-exit': 'error',
      'max-lines': ['warn', { max: 600, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['warn', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  { files: ['src/cli/**/*.ts', 'test/**/*.ts'], rules: { 'n/no-process-exit': 'off' } },
  {
    files: ['test/**/*.ts'],
    rules: {
      'max-lines-per-function': 'off',
      'max-lines': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  // The etcd config source (config/sources/etcd.ts) reads through the etcd client.
  layer(
    'config',
    ALL.filter((f) => f !== 'config' && f !== 'etcd'),
  ),
  layer(
    'etcd',
    ALL.filter((f) => f !== 'etcd'),
  ),
  layer('discovery', [
    'router',
    'snapshot',
    'proxy',
    'upstream',
    'server',
    'lifecycle',
    'admin',
    'cli',
    'gateway',
  ]),
  layer(
    'router',
    ALL.filter((f) => f !== 'router'),
  ),
  layer(
    'upstream',
    ALL.filter((f) => f !== 'upstream'),
  ),
  layer('snapshot', ['proxy', 'server', 'lifecycle', 'admin', 'cli', 'gateway', 'etcd']),
  layer('proxy', ['config', 'server', 'lifecycle', 'admin', 'cli', 'gateway', 'discovery', 'etcd']),
  layer(
    'server',
    ALL.filter((f) => f !== 'server'),
  ),
  layer('admin', ['lifecycle', 'cli', 'gateway', 'proxy', 'server']),
  layer('metrics', ALL),
  layer('log', ALL),
  layer('util', ALL),
)
