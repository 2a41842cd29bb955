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
/**
 * Inside a service, what may not import what: in the subscriber, data flows one way (the subscription
 * drives the batch walk, which calls the checks, dedup and delivery), so dedup and delivery never
 * import the pipeline above them.
 */
const INNER_FORBIDDEN = {
  'subscriber/dedup': ['subscriber/pipeline'],
  'subscriber/delivery': ['subscriber/pipeline'],
};

function boundaries() {
  const testCode = ['**/test/**', '**/testkit/**', '**/bench/**'];
  const patternsOf = (folder) => [
    ...FORBIDDEN[folder].map((other) => ({
      group: [`**/${other}/**`, `**/${other}`],
      message: `services/${folder} may not import services/${other}`,
    })),
    ...(INDEX_ONLY[folder] ?? []).map((other) => ({
      group: [`**/${other}/**`],
      message: `services/${folder} may import services/${other} only through its index`,
    })),
    { group: testCode, message: 'the product never imports test code' },
  ];
  const rule = (patterns) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns }] });
  const configs = Object.keys(FORBIDDEN).map((folder) => ({
    files: [`services/${folder}/**/*.ts`],
    rules: rule(patternsOf(folder)),
  }));
  // A later block replaces the rule's options for its files, so an inner folder keeps its service's.
  for (const [inner, forbidden] of Object.entries(INNER_FORBIDDEN)) {
    const patterns = forbidden.map((other) => ({
      group: [`**/${other.split('/').pop()}/**`],
      message: `services/${inner} may not import services/${other}`,
    }));
    configs.push({
      files: [`services/${inner}/**/*.ts`],
      rules: rule([...patternsOf(inner.split('/')[0]), ...patterns]),
    });
  }
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
