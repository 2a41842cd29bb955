/**
 * Every relative link and anchor in the project's Markdown resolves, the way
 * GitHub renders it. No Markdown parser is among the dependencies, so this
 * reads CommonMark's inline links (`[text](target)`, `![alt](src)`) and
 * reference definitions (`[label]: target`) outside fenced code blocks and
 * code spans, and ATX headings (`## Title`), the only kind the documents use.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.cache', 'dist', 'coverage']);

/** Blanks fenced code blocks (keeping line breaks, so line numbers hold) and code spans. */
function proseOnly(markdown: string): string[] {
  let fence: { char: string; length: number } | undefined;
  return markdown.split('\n').map((line) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      const closes =
        marker?.[1] !== undefined &&
        marker[1][0] === fence.char &&
        marker[1].length >= fence.length &&
        line.trim() === marker[1];
      if (closes) fence = undefined;
      return '';
    }
    if (marker?.[1] !== undefined && !(marker[1][0] === '`' && line.slice(marker[0].length).includes('`'))) {
      fence = { char: marker[1][0] ?? '`', length: marker[1].length };
      return '';
    }
    return withoutCodeSpans(line);
  });
}

/** A code span opens with a run of backticks and closes at the next run of the same length. */
function withoutCodeSpans(line: string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const run = /^`+/.exec(line.slice(i))?.[0];
    if (!run) {
      out += line[i];
      i++;
      continue;
    }
    const close = new RegExp(`(?<!\`)${run}(?!\`)`, 'g');
    close.lastIndex = i + run.length;
    const end = close.exec(line);
    if (!end) {
      out += run;
      i += run.length;
      continue;
    }
    out += ' '.repeat(end.index + run.length - i);
    i = end.index + run.length;
  }
  return out;
}

/**
 * GitHub's heading anchor: the heading's text as rendered (code spans keep
 * their content, links their text), lower case, every character that is not
 * a letter, mark, number, `_`, `-` or space dropped, each space a `-`.
 */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a document offers: its headings' slugs, a repeated one numbered `-1`, `-2`, … */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseOnlyHeadings(markdown)) {
    const base = githubSlug(line);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const m of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1] ?? '');
  return anchors;
}

/** Headings are read before code spans are blanked: a heading's code span is part of its anchor. */
function proseOnlyHeadings(markdown: string): string[] {
  const prose = proseOnly(markdown);
  return markdown
    .split('\n')
    .filter((_, i) => prose[i] !== '')
    .map((line) => /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1])
    .filter((text): text is string => text !== undefined);
}

interface Link {
  line: number;
  target: string;
}

const INLINE_LINK =
  /!?\[(?:[^[\]\\]|\\.|\[[^\]]*\])*\]\(\s*(<[^>]*>|(?:[^\s()\\]|\\.|\([^\s()]*\))*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
const DEFINITION = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/;

/** Every link target written in the document's prose, with its line. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  proseOnly(markdown).forEach((text, i) => {
    const definition = DEFINITION.exec(text)?.[1];
    if (definition !== undefined) links.push({ line: i + 1, target: definition });
    for (const m of text.replace(/\\[[\]]/g, '  ').matchAll(INLINE_LINK)) {
      links.push({ line: i + 1, target: m[1] ?? '' });
    }
  });
  return links.map((l) => ({ ...l, target: l.target.replace(/^<(.*)>$/, '$1') }));
}

/** Why `link` in `file` does not resolve, or undefined when it does. */
function problemWith(file: string, link: Link, root: string): string | undefined {
  const target = link.target;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined;
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const where = `${relative(root, file)}:${link.line}: ${target}`;
  const resolved =
    pathPart === ''
      ? file
      : pathPart.startsWith('/')
        ? join(root, pathPart)
        : resolve(dirname(file), pathPart);
  if (resolved !== root && !resolved.startsWith(root + sep)) return `${where}: leaves the project`;
  if (!existsSync(resolved)) return `${where}: no such file`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) {
    return /^L\d+(-L\d+)?$/.test(anchor) ? undefined : `${where}: an anchor into a file that has no headings`;
  }
  return anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)
    ? undefined
    : `${where}: no heading makes #${anchor}`;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : markdownFiles(join(dir, entry.name));
    return entry.name.endsWith('.md') ? [join(dir, entry.name)] : [];
  });
}

/** Every problem in every Markdown file under `root`. */
function brokenLinks(root: string): string[] {
  return markdownFiles(root).flatMap((file) =>
    linksOf(readFileSync(file, 'utf8'))
      .map((link) => problemWith(file, link, root))
      .filter((p): p is string => p !== undefined),
  );
}

describe('links in the documentation', () => {
  it('resolve, anchors included, in README.md, docs/ and every other Markdown file', () => {
    const files = markdownFiles(ROOT).map((f) => relative(ROOT, f));
    expect(files).toEqual(expect.arrayContaining(['README.md', join('docs', 'operating.md')]));
    expect(brokenLinks(ROOT)).toEqual([]);
  });
});

describe('the link check', () => {
  let dir: string;
  const write = (name: string, text: string): void => writeFileSync(join(dir, name), text);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threatrelay-links-'));
    write('other.md', '# Other\n\n## Setup: the `kafka` part\n\n## Setup: the `kafka` part\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a link to a file that does not exist', () => {
    write('a.md', '# A\n\nSee [the guide](missing.md) and [other](other.md).\n');
    expect(brokenLinks(dir)).toEqual(['a.md:3: missing.md: no such file']);
  });

  it('reports an anchor that no heading of the target makes', () => {
    write('a.md', '# A\n\n[ok](other.md#setup-the-kafka-part) and [broken](other.md#setup-kafka)\n');
    expect(brokenLinks(dir)).toEqual(['a.md:3: other.md#setup-kafka: no heading makes #setup-kafka']);
  });

  it("reports an anchor into the document's own headings that does not exist", () => {
    write('a.md', '# Title here\n\n[up](#title-here), [down](#nowhere)\n');
    expect(brokenLinks(dir)).toEqual(['a.md:3: #nowhere: no heading makes #nowhere']);
  });

  it('numbers a repeated heading -1 as GitHub does', () => {
    write('a.md', '[second](other.md#setup-the-kafka-part-1) [third](other.md#setup-the-kafka-part-2)\n');
    expect(brokenLinks(dir)).toEqual([
      'a.md:1: other.md#setup-the-kafka-part-2: no heading makes #setup-the-kafka-part-2',
    ]);
  });

  it('reports a broken reference definition', () => {
    write('a.md', 'See [the guide][g].\n\n[g]: ./gone.md\n');
    expect(brokenLinks(dir)).toEqual(['a.md:3: ./gone.md: no such file']);
  });

  it('ignores links in fenced code blocks and code spans, and external links', () => {
    write('a.md', '```md\n[x](nope.md)\n```\n\n`[y](nope.md)` [z](https://example.com/nope.md)\n');
    expect(brokenLinks(dir)).toEqual([]);
  });

  it('reports a link that leaves the project', () => {
    write('a.md', '[up](../outside.md)\n');
    expect(brokenLinks(dir)).toEqual(['a.md:1: ../outside.md: leaves the project']);
  });

  it.each([
    ['Pulling with TAXII 2.1', 'pulling-with-taxii-21'],
    ['From a file: `threatrelay publish`', 'from-a-file-threatrelay-publish'],
    ['Access: users and ACLs', 'access-users-and-acls'],
    ['The `threatrelay` command', 'the-threatrelay-command'],
    ['signatures (record signatures v1 against v2)', 'signatures-record-signatures-v1-against-v2'],
    ['deliver, after issuing a chunk’s dedup calls', 'deliver-after-issuing-a-chunks-dedup-calls'],
  ])('slugs the heading %j as GitHub does: #%s', (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });
});
