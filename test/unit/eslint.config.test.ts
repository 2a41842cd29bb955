import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The import boundaries in eslint.config.mjs, tried on deliberately wrong
 * imports: each must fail lint (and so CI), and an allowed one must pass.
 * ESLint runs as its own process: its API loads the config with a dynamic
 * import, which jest's CommonJS runtime cannot do.
 */
const root = join(__dirname, '../..');

function problems(file: string, code: string): string[] {
  const eslint = join(root, 'node_modules/eslint/bin/eslint.js');
  const out = spawnSync(process.execPath, [eslint, '--stdin', '--stdin-filename', file, '--format', 'json'], {
    cwd: root,
    input: code,
    encoding: 'utf8',
  });
  const [result] = JSON.parse(out.stdout) as { messages: { message: string }[] }[];
  return result!.messages.map((m) => m.message);
}

describe('import boundaries', () => {
  it.each([
    [
      'services/subscriber/pipeline/probe.ts',
      "import '../../producer/service';",
      'services/subscriber may not import services/producer',
    ],
    [
      'services/producer/publish/probe.ts',
      "import '../../subscriber/service';",
      'services/producer may not import services/subscriber',
    ],
    [
      'services/contract/probe.ts',
      "import '../platform/logger';",
      'services/contract may not import services/platform',
    ],
    [
      'services/platform/probe.ts',
      "import '../subscriber/metrics';",
      'services/platform may not import services/subscriber',
    ],
    [
      'services/stix/probe.ts',
      "import '../producer/http/app';",
      'services/stix may not import services/producer',
    ],
    ['services/admin/probe.ts', "import '../cli/main';", 'services/admin may not import services/cli'],
    [
      'services/misp/probe.ts',
      "import '../producer/http/app';",
      'services/misp may not import services/producer',
    ],
    ['services/misp/probe.ts', "import '../stix/import';", 'services/misp may not import services/stix'],
    [
      'services/console/probe.ts',
      "import '../producer/service';",
      'services/console may not import services/producer',
    ],
    [
      'services/subscriber/probe.ts',
      "import '../console/service';",
      'services/subscriber may not import services/console',
    ],
    [
      'services/console/probe.ts',
      "import '../subscriber/dlq/replay';",
      'services/console may import services/subscriber only through its index',
    ],
    [
      'services/console/probe.ts',
      "import '../subscriber/pipeline/classify';",
      'services/console may import services/subscriber only through its index',
    ],
    [
      'services/taxii/probe.ts',
      "import '../subscriber/pipeline/classify';",
      'services/taxii may not import services/subscriber',
    ],
    [
      'services/taxii/probe.ts',
      "import '../subscriber';",
      'services/taxii may not import services/subscriber',
    ],
    [
      'services/subscriber/probe.ts',
      "import '../taxii/feed';",
      'services/subscriber may not import services/taxii',
    ],
    [
      'services/subscriber/delivery/probe.ts',
      "import '../pipeline/classify';",
      'services/subscriber/delivery may not import services/subscriber/pipeline',
    ],
    [
      'services/subscriber/dedup/probe.ts',
      "import '../pipeline/walk';",
      'services/subscriber/dedup may not import services/subscriber/pipeline',
    ],
    [
      'services/subscriber/delivery/probe.ts',
      "import '../../producer/service';",
      'services/subscriber may not import services/producer',
    ],
    [
      'services/subscriber/probe.ts',
      "import '../../testkit/network';",
      'the product never imports test code',
    ],
    [
      'bench/probe.ts',
      "import '../test/fixtures/threat-events';",
      'bench and testkit share only testkit, not test/',
    ],
  ])('%s: %s fails lint', (file, code, message) => {
    expect(problems(file, code).join('\n')).toContain(message);
  });

  it('lets a service import contract and platform', () => {
    const code = "import '../../contract/model';\nimport '../../platform/logger';\n";
    expect(problems('services/subscriber/pipeline/probe.ts', code)).toEqual([]);
  });

  it('lets the batch walk call the checks, dedup and delivery below it', () => {
    const code = "import '../delivery/batch';\nimport '../dedup/port';\nimport './classify';\n";
    expect(problems('services/subscriber/pipeline/probe.ts', code)).toEqual([]);
  });

  it("lets the console reuse the subscriber's DLQ replay and control listener through its index", () => {
    const code = "import '../subscriber';\n";
    expect(problems('services/console/probe.ts', code)).toEqual([]);
  });
});
