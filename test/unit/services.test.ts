import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

/**
 * The shape of services/ that keeps it readable, checked so that it stays
 * true: a file over 400 lines is usually two concerns, a function over 80
 * lines hides a phase that wants its own name, and a unit test sits at the
 * path of what it tests.
 */
const root = join(__dirname, '../..');
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;

function filesUnder(dir: string, ending: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path, ending);
    return path.endsWith(ending) ? [path] : [];
  });
}

const sources = filesUnder(join(root, 'services'), '.ts');

/** Every function-like node with a body, and how many lines it spans. */
function functionSpans(path: string): { where: string; lines: number }[] {
  const text = readFileSync(path, 'utf8');
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const spans: { where: string; lines: number }[] = [];
  const lineOf = (pos: number): number => file.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = lineOf(node.getStart(file));
      spans.push({ where: `${relative(root, path)}:${start}`, lines: lineOf(node.getEnd()) - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return spans;
}

/**
 * The source a unit test names: `test/unit/<p>.test.ts` (or `<p>.<kind>.test.ts`, a fuzz, oracle
 * or property test of the same source) names `services/<p>` as a file or folder, or `<p>` itself
 * when it tests something outside services/ (the lint config, a test harness). Tests of the
 * documents sit in `test/unit/docs/`, named for what they check across docs/ and README.md.
 */
function namedSource(testPath: string): string | undefined {
  const p = relative(join(root, 'test/unit'), testPath).replace(/(\.(fuzz|oracle|property))?\.test\.ts$/, '');
  if (p.startsWith('docs/') && existsSync(join(root, 'docs'))) return 'docs';
  const candidates = [join(root, 'services', p), join(root, p), join(root, 'test', p)];
  for (const base of candidates) {
    const dir = dirname(base);
    const stem = base.slice(dir.length + 1);
    const file = existsSync(dir)
      ? readdirSync(dir).find(
          (name) => name.replace(/\.[^.]+$/, '') === stem && statSync(join(dir, name)).isFile(),
        )
      : undefined;
    if (file) return relative(root, join(dir, file));
    if (existsSync(base) && statSync(base).isDirectory()) return relative(root, base);
  }
  return undefined;
}

describe('services/', () => {
  it(`has no source file over ${MAX_FILE_LINES} lines`, () => {
    const long = sources
      .map((path) => ({ path: relative(root, path), lines: readFileSync(path, 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_FILE_LINES);
    expect(long).toEqual([]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = sources.flatMap(functionSpans).filter((f) => f.lines > MAX_FUNCTION_LINES);
    expect(long).toEqual([]);
  });

  it('has a source at the path of every unit test', () => {
    const orphans = filesUnder(join(root, 'test/unit'), '.test.ts')
      .filter((path) => namedSource(path) === undefined)
      .map((path) => relative(root, path));
    expect(orphans).toEqual([]);
  });
});

describe('namedSource', () => {
  it('finds a source file, a folder, or a file outside services/ by the test path', () => {
    expect(namedSource(join(root, 'test/unit/contract/names.test.ts'))).toBe('services/contract/names.ts');
    expect(namedSource(join(root, 'test/unit/contract/avro/codec.fuzz.test.ts'))).toBe(
      'services/contract/avro/codec.ts',
    );
    expect(namedSource(join(root, 'test/unit/cli/commands.test.ts'))).toBe('services/cli/commands.ts');
    expect(namedSource(join(root, 'test/unit/services.test.ts'))).toBe('services');
    expect(namedSource(join(root, 'test/unit/docs/links.test.ts'))).toBe('docs');
  });

  it('finds nothing for a test whose path names no source', () => {
    expect(namedSource(join(root, 'test/unit/ops/probe.test.ts'))).toBeUndefined();
    expect(namedSource(join(root, 'test/unit/subscriber/no-such-thing.test.ts'))).toBeUndefined();
  });
});
