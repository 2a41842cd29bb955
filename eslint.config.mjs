import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SERVICES = [
  'producer',
  'subscriber',
  'taxii',
  'admin',
  'receiver',
  'console',
  'stix',
  'misp',
  'platform',
  'contract',
  'cli',
];
/** What each folder may not import, on top of test code, which no service imports. */
const FORBIDDEN = {
  contract: SERVICES.filter((s) => s !== 'contract'),
  platform: SERVICES.filter((s) => s !== 'platform' && s !== 'contract'),
  stix: ['producer', 'subscriber', 'taxii', 'admin', 'receiver', 'console', 'cli', 'misp'],
  // MISP events to indicators, pure: like stix, a mapper the producer uses, importing no service.
  misp: ['producer', 'subscriber', 'taxii', 'admin', 'receiver', 'console', 'cli', 'stix'],
  producer: ['subscriber', 'taxii', 'admin', 'receiver', 'console', 'cli'],
  subscriber: ['producer', 'taxii', 'admin', 'receiver', 'console', 'cli', 'misp'],
  // The TAXII server reads records with contract's reader and serves them with stix; the subscriber's
  // pipeline is not its to use.
  taxii: ['producer', 'subscriber', 'admin', 'receiver', 'console', 'cli', 'misp'],
  admin: ['producer', 'subscriber', 'taxii', 'receiver', 'console', 'cli', 'misp'],
  receiver: ['producer', 'subscriber', 'taxii', 'admin', 'stix', 'misp', 'console', 'cli'],
  console: ['producer', 'taxii', 'admin', 'receiver', 'stix', 'misp', 'cli'],
  cli: [],
};
/**
 * What a folder may take from another only through its index (`services/<other>/index.ts`), never
 * from the files behind it. The operator's view acts on subscriptions without running one: the
 * subscriber's index offers it the control listener and DLQ read and replay (one implementation of
 * what `dlq replay` does), and nothing of the pipeline.
 */
const INDEX_ONLY = {
  console: ['subscriber'],
};

function boundaries() {
  const testCode = ['**/test/**', '**/testkit/**', '**/bench/**'];
  const configs = Object.entries(FORBIDDEN).map(([folder, forbidden]) => ({
    files: [`services/${folder}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...forbidden.map((other) => ({
              group: [`**/${other}/**`, `**/${other}`],
              message: `services/${folder} may not import services/${other}`,
            })),
            ...(INDEX_ONLY[folder] ?? []).map((other) => ({
              group: [`**/${other}/**`],
              message: `services/${folder} may import services/${other} only through its index`,
            })),
            { group: testCode, message: 'the product never imports test code' },
          ],
        },
      ],
    },
  }));
  configs.push({
    files: ['bench/**/*.ts', 'testkit/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/test/**'], message: 'bench and testkit share only testkit, not test/' }] },
      ],
    },
  });
  return configs;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // Import boundaries: `contract` (what crosses Kafka) and `platform` (process plumbing) import no
  // service; services never import each other; nothing imports `cli`, which wires them all; the
  // product never imports tests, and benches share only `testkit`.
  ...boundaries(),
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: {
      globals: {
        module: 'writable',
        require: 'readonly',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
  },
);
