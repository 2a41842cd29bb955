import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import { parse as parseCsv } from 'csv-parse/sync';
import { uuidV5 } from '../contract/ids';
import { indicatorInputSchema } from '../contract/indicator';
import { bundleObjects, contextObjectIds, StixBundleError } from '../stix/import';

/**
 * `threatrelay publish FILE`: a file of indicators, whatever its size, to a
 * producer's API in batches. Every line ends up accepted, rejected with its
 * line number and reason, or failed (the producer could not be reached or
 * stayed unavailable): nothing is dropped without a word.
 *
 * /v1/indicators is all or nothing per request, so a 400 does not fail the
 * batch: its `details` name the bad items, those lines are rejected, and the
 * rest of the batch is sent again (validation runs in stages, so this can
 * take a few rounds). Each request carries an Idempotency-Key derived from
 * the file, the batch's first line and its exact body: running the same file
 * again sends the same keys, so the producer answers from its idempotency
 * cache with the same eventIds and subscribers drop any repeat.
 */

export const INPUT_FORMATS = ['json', 'ndjson', 'csv', 'stix'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** A problem with the invocation or with the file as a whole: nothing was published. Exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface PublishFileOptions {
  file: string;
  /** The producer's base URL, e.g. http://127.0.0.1:8081. */
  url: string;
  apiKey: string;
  /** Indicators per request (STIX: indicator objects per bundle). Default 500. */
  batchSize?: number;
  /** Inferred from the extension, then the content, when not given. */
  format?: InputFormat;
  /** Attempts per request on 429, 502, 503, 504 and connection errors. Default 10. */
  maxAttempts?: number;
  /** The longest single wait between attempts, whatever Retry-After says. Default 60 s. */
  maxRetryWaitMs?: number;
  /** `auto`: a bar when `stderr` is a TTY, otherwise a line now and then. Default `auto`. */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  stderr?: Writable & { isTTY?: boolean };
  sleep?: (ms: number) => Promise<void>;
}

export interface LineProblem {
  /** 1-based line of the file where the record starts. */
  line: number;
  /** Where in the record (`tlp`, `recipients.0`, `pattern`), or `(line)` for the record as a whole. */
  path: string;
  reason: string;
}

export interface AcceptedLine {
  line: number;
  eventId: string;
  key: string;
}

export interface PublishFileResult {
  format: InputFormat;
  /** Records read: lines (NDJSON), rows (CSV), array items (JSON), indicator objects (STIX). */
  records: number;
  accepted: AcceptedLine[];
  /** One entry per problem; a line with two problems appears twice. */
  rejected: LineProblem[];
  /** Lines not published because the producer stayed unavailable or answered unexpectedly. */
  failed: LineProblem[];
  /** STIX objects that are not indicators. */
  ignored: { line: number; id: string | null; type: string }[];
}

/** 0 when every record was accepted, 1 when some were rejected or failed. */
export function exitCodeOf(result: PublishFileResult): 0 | 1 {
  return result.rejected.length === 0 && result.failed.length === 0 ? 0 : 1;
}

export function summarize(result: PublishFileResult): string {
  const lines = (problems: LineProblem[]): number => new Set(problems.map((p) => p.line)).size;
  const out = [
    `${result.records} record(s) read (${result.format}): ${result.accepted.length} accepted, ` +
      `${lines(result.rejected)} rejected, ${lines(result.failed)} failed` +
      (result.ignored.length > 0 ? `, ${result.ignored.length} non-indicator object(s) ignored` : ''),
  ];
  const byLine = (a: LineProblem, b: LineProblem): number => a.line - b.line;
  for (const p of [...result.rejected].sort(byLine)) out.push(`line ${p.line}: ${p.path}: ${p.reason}`);
  for (const p of [...result.failed].sort(byLine)) out.push(`line ${p.line}: failed: ${p.reason}`);
  return out.join('\n');
}

// ---------------------------------------------------------------- reading

interface SourceRecord {
  line: number;
  item: unknown;
}

interface ReadFile {
  format: InputFormat;
  /** SHA-256 of the file's text: part of every Idempotency-Key, so a re-run sends the same keys. */
  digest?: string;
  records: SourceRecord[];
  /** Lines refused before anything was sent (not JSON, a broken CSV row). */
  rejected: LineProblem[];
  ignored: PublishFileResult['ignored'];
  /** STIX only: every object of the bundle, for the context each chunk needs. */
  objects?: unknown[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBundle(value: unknown): boolean {
  return isRecord(value) && value.type === 'bundle';
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
      return isBundle(JSON.parse(text)) ? 'stix' : 'json';
    } catch {
      // Several JSON documents, one per line, do not parse as one.
      return 'ndjson';
    }
  }
  if (ext === '.json') return 'json';
  const firstLine = head.split(/\r?\n/, 1)[0] ?? '';
  if (firstLine.includes(',')) return 'csv';
  throw new UsageError(`cannot tell the format of ${file}; give --format json|ndjson|csv|stix`);
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
    throw new UsageError(
      `${file} is not valid JSON (${(err as Error).message}); nothing was published. ` +
        'A file with one indicator per line is NDJSON: give --format ndjson to have bad lines skipped.',
    );
  }
}

function readJson(file: string, text: string): ReadFile {
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

function readNdjson(text: string): ReadFile {
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

function readCsv(file: string, text: string): ReadFile {
  const rejected: LineProblem[] = [];
  const parse = (): ReturnType<typeof parseCsv> =>
    parseCsv(text, {
      columns: (names: string[]) => {
        const header = names.map((n) => n.trim());
        const unknown = header.filter((n) => !CSV_FIELDS.includes(n));
        if (unknown.length > 0) {
          throw new UsageError(
            `${file}: unknown column(s) ${unknown.map((n) => JSON.stringify(n)).join(', ')} in the header; ` +
              `columns are field names: ${CSV_FIELDS.join(', ')}`,
          );
        }
        return header;
      },
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
    });
  let rows: { record: Record<string, string>; info: { lines: number }; raw: string }[];
  try {
    rows = parse() as unknown as typeof rows;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${file} is not CSV: ${(err as Error).message}`);
  }
  const records = rows.map(({ record, info, raw }) => {
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
  });
  return { format: 'csv', records, rejected, ignored: [] };
}

function readStix(file: string, text: string): ReadFile {
  const doc = parseJsonDocument(file, text);
  let objects: unknown[];
  try {
    objects = bundleObjects(doc);
  } catch (err) {
    if (err instanceof StixBundleError)
      throw new UsageError(`${file} is not a STIX bundle: ${err.path} ${err.message}`);
    throw err;
  }
  // An object's own "id" comes before any reference to it under another key.
  const lineOfId = new Map<string, number>();
  let line = 1;
  let last = 0;
  for (const m of text.matchAll(/"id"\s*:\s*"([^"\\]+)"/g)) {
    for (let i = last; i < m.index; i++) if (text.charCodeAt(i) === 10) line++;
    last = m.index;
    if (!lineOfId.has(m[1]!)) lineOfId.set(m[1]!, line);
  }
  const lineOf = (o: unknown): number =>
    (isRecord(o) && typeof o.id === 'string' ? lineOfId.get(o.id) : undefined) ?? 1;
  const records: SourceRecord[] = [];
  const ignored: PublishFileResult['ignored'] = [];
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

function readInput(file: string, format: InputFormat | undefined): ReadFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const read = (): ReadFile => {
    switch (format ?? inferFormat(file, text)) {
      case 'json':
        return readJson(file, text);
      case 'ndjson':
        return readNdjson(text);
      case 'csv':
        return readCsv(file, text);
      case 'stix':
        return readStix(file, text);
    }
  };
  return { ...read(), digest: digest(text) };
}

// ---------------------------------------------------------------- sending

interface ErrorAnswer {
  error?: { code?: string; message?: string; details?: { path: string; message: string }[] };
}

type Answer =
  | { kind: 'accepted'; body: Record<string, unknown> }
  | { kind: 'invalid'; status: number; body: ErrorAnswer }
  | { kind: 'failed'; reason: string };

/** Statuses the same request can pass later; everything else is final. */
const RETRYABLE = new Set([429, 502, 503, 504]);
/** Statuses that every batch would get: stop at the first instead of failing each line alike. */
const FATAL = new Set([401, 403, 404, 405, 415]);

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeError(status: number, body: ErrorAnswer): string {
  const e = body.error;
  return e ? `${status} ${e.code ?? ''}: ${e.message ?? ''}`.trim() : `HTTP ${status}`;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const BUNDLE_NAMESPACE = Buffer.from('4b1e0f5a2c3d4e6f8a9b0c1d2e3f4a5b', 'hex');

/** A bundle id that is the same for the same chunk of the same file. */
function bundleId(seed: string): string {
  return `bundle--${uuidV5(BUNDLE_NAMESPACE, seed)}`;
}

interface Progress {
  advance(records: number): void;
  stop(): void;
}

function progressReporter(
  mode: NonNullable<PublishFileOptions['progress']>,
  stderr: NonNullable<PublishFileOptions['stderr']>,
  total: number,
  counts: () => { accepted: number; rejected: number },
): Progress {
  let done = 0;
  const useBar = mode === 'bar' || (mode === 'auto' && stderr.isTTY === true);
  if (mode === 'none') return { advance: () => undefined, stop: () => undefined };
  if (useBar) {
    const bar = new SingleBar({
      stream: stderr as unknown as NodeJS.WritableStream,
      format:
        'publishing |{bar}| {value}/{total} records | {accepted} accepted, {rejected} rejected | {eta_formatted}',
      hideCursor: true,
    });
    bar.start(total, 0, counts());
    return {
      advance(n) {
        done += n;
        bar.update(done, counts());
      },
      stop: () => bar.stop(),
    };
  }
  // A log, not a terminal: a line every tenth of the file or every 5 s, whichever comes first.
  let lastAt = Date.now();
  let lastDone = 0;
  return {
    advance(n) {
      done += n;
      if (done < total && done - lastDone < total / 10 && Date.now() - lastAt < 5000) return;
      const c = counts();
      stderr.write(`published ${done}/${total} records: ${c.accepted} accepted, ${c.rejected} rejected\n`);
      lastAt = Date.now();
      lastDone = done;
    },
    stop: () => undefined,
  };
}

/** Publishes every record of `options.file`; resolves with what happened to each line. */
export async function publishFile(options: PublishFileOptions): Promise<PublishFileResult> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new UsageError('--batch-size must be a positive integer');
  if (options.format !== undefined && !INPUT_FORMATS.includes(options.format)) {
    throw new UsageError(`--format must be one of ${INPUT_FORMATS.join(', ')}`);
  }
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new UsageError(`--url ${options.url} is not a URL`);
  }
  const maxAttempts = options.maxAttempts ?? 10;
  const maxWait = options.maxRetryWaitMs ?? 60_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const stderr = options.stderr ?? process.stderr;

  const input = readInput(options.file, options.format);
  const fileDigest = input.digest!;
  const result: PublishFileResult = {
    format: input.format,
    records: input.records.length + input.rejected.length,
    accepted: [],
    rejected: [...input.rejected],
    failed: [],
    ignored: input.ignored,
  };
  const progress = progressReporter(options.progress ?? 'auto', stderr, result.records, () => ({
    accepted: result.accepted.length,
    rejected: new Set(result.rejected.map((r) => r.line)).size,
  }));
  progress.advance(input.rejected.length);

  /** One request, retried while the answer says it may pass later. */
  const post = async (route: string, body: unknown, firstLine: number): Promise<Answer> => {
    const text = JSON.stringify(body);
    const idempotencyKey = `publish-${digest(`${fileDigest}\n${firstLine}\n${digest(text)}`).slice(0, 48)}`;
    let reason: string;
    for (let attempt = 1; ; attempt++) {
      let wait: number | undefined;
      try {
        const res = await fetch(new URL(route, base), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${options.apiKey}`,
            'content-type': 'application/json',
            'idempotency-key': idempotencyKey,
          },
          body: text,
        });
        const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
        if (res.status === 202) return { kind: 'accepted', body: answer };
        reason = describeError(res.status, answer as ErrorAnswer);
        if (FATAL.has(res.status)) throw new UsageError(`the producer refused the request: ${reason}`);
        if (res.status === 400 || res.status === 413)
          return { kind: 'invalid', status: res.status, body: answer };
        if (!RETRYABLE.has(res.status)) return { kind: 'failed', reason };
        wait = retryAfterMs(res.headers.get('retry-after'));
      } catch (err) {
        if (err instanceof UsageError) throw err;
        const cause = (err as { cause?: { code?: string } }).cause?.code;
        reason = `cannot reach ${base.origin}: ${cause ?? (err as Error).message}`;
      }
      if (attempt >= maxAttempts)
        return { kind: 'failed', reason: `${reason} (gave up after ${attempt} attempts)` };
      await sleep(Math.min(maxWait, wait ?? Math.min(30_000, 500 * 2 ** (attempt - 1))));
    }
  };

  const reject = (line: number, path: string, reason: string): void => {
    result.rejected.push({ line, path, reason });
  };
  const fail = (records: SourceRecord[], reason: string): void => {
    for (const r of records) result.failed.push({ line: r.line, path: '(request)', reason });
  };
  /** Takes a 202's receipts; a record the answer says nothing about is failed, never lost in silence. */
  const confirm = (records: SourceRecord[], body: Record<string, unknown>, rejected: number[] = []): void => {
    const receipts = (Array.isArray(body.receipts) ? body.receipts : []) as ({ index: number } & Omit<
      AcceptedLine,
      'line'
    >)[];
    const told = new Set(rejected);
    for (const r of receipts) {
      const record = records[r.index];
      if (!record) continue;
      told.add(r.index);
      result.accepted.push({ line: record.line, eventId: r.eventId, key: r.key });
    }
    const silent = records.filter((_, i) => !told.has(i));
    fail(silent, 'the producer answered 202 without a receipt for this record');
  };

  /** Sends records to /v1/indicators until each is accepted or rejected. */
  const sendIndicators = async (records: SourceRecord[]): Promise<void> => {
    let pending = records;
    while (pending.length > 0) {
      const answer = await post(
        '/v1/indicators',
        pending.map((r) => r.item),
        pending[0]!.line,
      );
      if (answer.kind === 'failed') return fail(pending, answer.reason);
      if (answer.kind === 'accepted') return confirm(pending, answer.body);
      // Details name items by position: `3.tlp`, `3` for the item itself.
      const details = answer.body.error?.details ?? [];
      const byItem = new Map<number, { path: string; message: string }[]>();
      const unplaced = details.filter((d) => {
        const m = /^(\d+)(?:\.(.*))?$/.exec(d.path);
        const index = m ? Number(m[1]) : NaN;
        if (!(index < pending.length)) return true;
        byItem.set(index, [...(byItem.get(index) ?? []), { path: m![2] ?? '(line)', message: d.message }]);
        return false;
      });
      if (unplaced.length > 0 || byItem.size === 0) {
        // About the request, not an item (too many items, too large): halve it.
        if (pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          await sendIndicators(pending.slice(0, half));
          await sendIndicators(pending.slice(half));
          return;
        }
        const reason = describeError(answer.status, answer.body);
        for (const d of unplaced.length > 0 ? unplaced : [{ path: '(line)', message: reason }]) {
          reject(pending[0]!.line, d.path, d.message);
        }
        return;
      }
      for (const [index, problems] of byItem) {
        for (const p of problems) reject(pending[index]!.line, p.path, p.message);
      }
      pending = pending.filter((_, i) => !byItem.has(i));
    }
  };

  /** Sends indicator objects as bundles with the context they need; /v1/stix answers per object. */
  const sendStix = async (records: SourceRecord[]): Promise<void> => {
    const indicators = records.map((r) => r.item).filter(isRecord);
    const context = contextObjectIds(indicators, input.objects ?? []);
    // Never another indicator: it is published by its own chunk.
    const contextObjects = (input.objects ?? []).filter(
      (o) => isRecord(o) && o.type !== 'indicator' && typeof o.id === 'string' && context.has(o.id),
    );
    const objects = [...records.map((r) => r.item), ...contextObjects];
    const body = {
      type: 'bundle',
      id: bundleId(`${fileDigest}\n${records[0]!.line}\n${records.length}`),
      objects,
    };
    const answer = await post('/v1/stix', body, records[0]!.line);
    if (answer.kind === 'failed') return fail(records, answer.reason);
    type Rejection = { index: number; path: string; reason?: string; message?: string };
    let rejections: Rejection[];
    if (answer.kind === 'accepted') {
      rejections = (Array.isArray(answer.body.rejected) ? answer.body.rejected : []) as Rejection[];
      confirm(
        records,
        answer.body,
        rejections.map((r) => r.index),
      );
    } else {
      const details = answer.body.error?.details ?? [];
      const placed = details.every(
        (d) => /^objects\.\d+/.test(d.path) && Number(d.path.split('.')[1]) < records.length,
      );
      if (!placed || details.length === 0) {
        if (records.length > 1) {
          const half = Math.ceil(records.length / 2);
          await sendStix(records.slice(0, half));
          await sendStix(records.slice(half));
          return;
        }
        const reason = describeError(answer.status, answer.body);
        return reject(records[0]!.line, '(object)', reason);
      }
      rejections = details.map((d) => ({
        index: Number(d.path.split('.')[1]),
        path: d.path,
        // 400 details carry the object id in front of the reason, which the line number replaces.
        reason: d.message.replace(/^[a-z0-9-]+--[0-9a-f-]+: /i, '').replace(/^\(no id\): /, ''),
      }));
    }
    for (const r of rejections) {
      if (r.index >= records.length) continue;
      reject(
        records[r.index]!.line,
        r.path.split('.').slice(2).join('.') || '(object)',
        r.reason ?? r.message ?? '',
      );
    }
  };

  try {
    for (let start = 0; start < input.records.length; start += batchSize) {
      const batch = input.records.slice(start, start + batchSize);
      await (input.format === 'stix' ? sendStix(batch) : sendIndicators(batch));
      progress.advance(batch.length);
    }
  } finally {
    progress.stop();
  }
  // Batches finish in order but client-side rejections come first: report in file order.
  for (const list of [result.accepted, result.rejected, result.failed]) list.sort((a, b) => a.line - b.line);
  return result;
}
