import { createHash } from 'node:crypto';
import { isRecord } from '../../platform/json';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { isThreatRelayError } from '../../contract/errors';
import { indicatorInputSchema } from '../../contract/indicator';
import { bundleObjects } from '../../stix/bundle';
import { fail } from '../context';

/** Reading a file of indicators: its format, its records and the line each one starts on. */

export const INPUT_FORMATS = ['json', 'ndjson', 'csv', 'stix'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export interface LineProblem {
  /** 1-based line of the file where the record starts. */
  line: number;
  /** Where in the record (`tlp`, `recipients.0`, `pattern`), or `(line)` for the record as a whole. */
  path: string;
  reason: string;
}

/** A STIX object that is not an indicator, which publishing leaves out. */
export interface IgnoredObject {
  line: number;
  id: string | null;
  type: string;
}

export interface SourceRecord {
  line: number;
  item: unknown;
}

export interface InputFile {
  format: InputFormat;
  /** SHA-256 of the file's text: part of every Idempotency-Key, so a re-run sends the same keys. */
  digest: string;
  records: SourceRecord[];
  /** Lines refused before anything was sent (not JSON, a broken CSV row). */
  rejected: LineProblem[];
  ignored: IgnoredObject[];
  /** STIX only: every object of the bundle, for the context each chunk needs. */
  objects?: unknown[];
}

type Parsed = Omit<InputFile, 'digest'>;

export function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function inferFormat(file: string, text: string): InputFormat {
  const name = file.toLowerCase();
  const ext = path.extname(name);
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  if (ext === '.csv') return 'csv';
  if (ext === '.stix' || name.endsWith('.stix.json')) return 'stix';
  const head = text.trimStart();
  if (head.startsWith('[')) return 'json';
  if (head.startsWith('{')) {
    try {
      const doc: unknown = JSON.parse(text);
      return isRecord(doc) && doc.type === 'bundle' ? 'stix' : 'json';
    } catch {
      // Several JSON documents, one per line, do not parse as one.
      return 'ndjson';
    }
  }
  if (ext === '.json') return 'json';
  const firstLine = head.split(/\r?\n/, 1)[0] ?? '';
  if (firstLine.includes(',')) return 'csv';
  return fail(`cannot tell the format of ${file}; give --format json|ndjson|csv|stix`);
}

/** Line numbers where each element of a top-level JSON array starts; the text is known to be valid JSON. */
function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let depth = 0;
  let line = 1;
  let inString = false;
  let escaped = false;
  let expectElement = false;
  for (const c of text) {
    if (c === '\n') line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 1 && expectElement && !/\s/.test(c) && c !== ']') {
      lines.push(line);
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectElement = c === '[';
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return lines;
}

function parseJsonDocument(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(
      `${file} is not valid JSON (${(err as Error).message}); nothing was published. ` +
        'A file with one indicator per line is NDJSON: give --format ndjson to have bad lines skipped.',
    );
  }
}

function readJson(file: string, text: string): Parsed {
  const doc = parseJsonDocument(file, text);
  if (!Array.isArray(doc))
    return { format: 'json', records: [{ line: 1, item: doc }], rejected: [], ignored: [] };
  const lines = arrayElementLines(text);
  return {
    format: 'json',
    records: doc.map((item, i) => ({ line: lines[i] ?? 1, item })),
    rejected: [],
    ignored: [],
  };
}

function readNdjson(text: string): Parsed {
  const records: SourceRecord[] = [];
  const rejected: LineProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    const content = raw.trim();
    if (content === '') return;
    try {
      records.push({ line: i + 1, item: JSON.parse(content) });
    } catch (err) {
      rejected.push({ line: i + 1, path: '(line)', reason: `not JSON: ${(err as Error).message}` });
    }
  });
  return { format: 'ndjson', records, rejected, ignored: [] };
}

const CSV_FIELDS = Object.keys(indicatorInputSchema.shape);
const CSV_LIST_FIELDS = new Set(['tags', 'recipients', 'references']);

interface CsvRow {
  record: Record<string, string>;
  info: { lines: number };
  raw: string;
}

function csvHeader(file: string, names: string[]): string[] {
  const header = names.map((n) => n.trim());
  const unknown = header.filter((n) => !CSV_FIELDS.includes(n));
  if (unknown.length > 0) {
    fail(
      `${file}: unknown column(s) ${unknown.map((n) => JSON.stringify(n)).join(', ')} in the header; ` +
        `columns are field names: ${CSV_FIELDS.join(', ')}`,
    );
  }
  return header;
}

function csvRecord({ record, info, raw }: CsvRow): SourceRecord {
  const item: Record<string, unknown> = {};
  for (const [field, cell] of Object.entries(record)) {
    if (cell === '') continue;
    if (CSV_LIST_FIELDS.has(field)) {
      item[field] = cell
        .split(/[;|]/)
        .map((v) => v.trim())
        .filter(Boolean);
    } else if (field === 'confidence' && /^\d+$/.test(cell)) {
      item[field] = Number(cell);
    } else {
      item[field] = cell;
    }
  }
  // info.lines is where the row ends; a quoted cell can span lines.
  const line = info.lines - (raw.replace(/\r?\n$/, '').match(/\n/g)?.length ?? 0);
  return { line, item };
}

function readCsv(file: string, text: string): Parsed {
  const rejected: LineProblem[] = [];
  let rows: CsvRow[];
  try {
    rows = parseCsv(text, {
      columns: (names: string[]) => csvHeader(file, names),
      skip_empty_lines: true,
      trim: true,
      bom: true,
      info: true,
      raw: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        if (err)
          rejected.push({ line: Number(err.lines), path: '(line)', reason: `not a CSV row: ${err.message}` });
        return undefined;
      },
    }) as unknown as CsvRow[];
  } catch (err) {
    if (isThreatRelayError(err, 'TR_USAGE')) throw err;
    return fail(`${file} is not CSV: ${(err as Error).message}`);
  }
  return { format: 'csv', records: rows.map(csvRecord), rejected, ignored: [] };
}

/** The line of each object's own "id", which comes before any reference to it under another key. */
function idLines(text: string): Map<string, number> {
  const lineOfId = new Map<string, number>();
  let line = 1;
  let last = 0;
  for (const m of text.matchAll(/"id"\s*:\s*"([^"\\]+)"/g)) {
    for (let i = last; i < m.index; i++) if (text.charCodeAt(i) === 10) line++;
    last = m.index;
    if (!lineOfId.has(m[1]!)) lineOfId.set(m[1]!, line);
  }
  return lineOfId;
}

function readStix(file: string, text: string): Parsed {
  const doc = parseJsonDocument(file, text);
  let objects: unknown[];
  try {
    objects = bundleObjects(doc);
  } catch (err) {
    const where = isThreatRelayError(err, 'TR_VALIDATION') ? err.details[0] : undefined;
    if (where) fail(`${file} is not a STIX bundle: ${where.path} ${where.message}`);
    throw err;
  }
  const lineOfId = idLines(text);
  const lineOf = (o: unknown): number =>
    (isRecord(o) && typeof o.id === 'string' ? lineOfId.get(o.id) : undefined) ?? 1;
  const records: SourceRecord[] = [];
  const ignored: IgnoredObject[] = [];
  for (const o of objects) {
    if (isRecord(o) && typeof o.type === 'string' && o.type !== 'indicator') {
      ignored.push({ line: lineOf(o), id: typeof o.id === 'string' ? o.id : null, type: o.type });
    } else {
      // Indicators, and entries that are not STIX objects, which the producer rejects with the reason.
      records.push({ line: lineOf(o), item: o });
    }
  }
  return { format: 'stix', records, rejected: [], ignored, objects };
}

const READERS: Record<InputFormat, (file: string, text: string) => Parsed> = {
  json: readJson,
  ndjson: (_file, text) => readNdjson(text),
  csv: readCsv,
  stix: readStix,
};

/** Reads the whole file; a problem with the file as a whole is a usage error (nothing is sent). */
export function readInput(file: string, format: InputFormat | undefined): InputFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { ...READERS[format ?? inferFormat(file, text)](file, text), digest: digest(text) };
}
