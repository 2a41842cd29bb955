import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * OASIS's stix2-validator (Python, in the oracle venv of scripts/oracles) as
 * an independent judge of the STIX 2.1 we read and write.
 */
const ROOT = path.resolve(__dirname, '..');

export function oraclePython(): string {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts/oracles/setup.sh')], {
    encoding: 'utf8',
    timeout: 170_000,
  });
  return out.trim().split('\n').pop() ?? '';
}

/** Validates files (paths) and in-memory bundles; returns the errors per input, empty when valid. */
export function stixValidationErrors(python: string, inputs: (string | object)[]): string[][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stix-oracle-'));
  try {
    const files = inputs.map((input, i) => {
      if (typeof input === 'string') return input;
      const file = path.join(dir, `bundle-${i}.json`);
      fs.writeFileSync(file, JSON.stringify(input));
      return file;
    });
    const script = [
      'import json, sys',
      'from stix2validator import validate_file, ValidationOptions',
      "print(json.dumps([[str(e) for o in validate_file(f, ValidationOptions(version='2.1')).object_results for e in o.errors] for f in sys.argv[1:]]))",
    ].join('\n');
    return JSON.parse(
      execFileSync(python, ['-c', script, ...files], { encoding: 'utf8', timeout: 120_000 }),
    ) as string[][];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
