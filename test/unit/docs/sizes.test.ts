/**
 * The two top-level documents stay short enough to read (issue 21), and the
 * Quick start keeps its two command lines word for word.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const lines = (file: string): string[] => readFileSync(join(ROOT, file), 'utf8').trimEnd().split('\n');

describe('the top-level documents', () => {
  it('keeps README.md within 250 lines', () => {
    expect(lines('README.md').length).toBeLessThanOrEqual(250);
  });

  it('keeps BENCHMARKS.md within 300 lines', () => {
    expect(lines('BENCHMARKS.md').length).toBeLessThanOrEqual(300);
  });

  it("gives the Quick start's two command lines, and only those, in one code block", () => {
    const readme = lines('README.md');
    const start = readme.indexOf('## Quick start');
    const open = readme.findIndex((line, i) => i > start && line.startsWith('```'));
    const close = readme.findIndex((line, i) => i > open && line.startsWith('```'));
    expect(readme.slice(open + 1, close)).toEqual(['npm ci && npm start', 'npm ci && npm test']);
  });
});
