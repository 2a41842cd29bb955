import { fail } from '../context';
import { progressReporter, type ProgressMode, type ProgressStream } from './progress';
import { INPUT_FORMATS, readInput, type IgnoredObject, type InputFormat, type LineProblem } from './read';
import { retryDefaults, sendIndicators, sendStix, type Outcome, type Sender } from './send';

/**
 * `threatrelay publish FILE`: a file of indicators, whatever its size, to a
 * producer's API in batches. Every line ends up accepted, rejected with its
 * line number and reason, or failed (the producer could not be reached or
 * stayed unavailable): nothing is dropped without a word. A problem with the
 * invocation or the file as a whole is a TR_USAGE error: nothing was published.
 */

export { INPUT_FORMATS, inferFormat, type InputFormat, type LineProblem } from './read';
export type { AcceptedLine } from './send';

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
  progress?: ProgressMode;
  stderr?: ProgressStream;
  sleep?: (ms: number) => Promise<void>;
}

export interface PublishFileResult extends Outcome {
  format: InputFormat;
  /** Records read: lines (NDJSON), rows (CSV), array items (JSON), indicator objects (STIX). */
  records: number;
  /** STIX objects that are not indicators. */
  ignored: IgnoredObject[];
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

export function checkBatchSize(batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) fail('--batch-size must be a positive integer');
  return batchSize;
}

export function checkFormat(format: string | undefined): InputFormat | undefined {
  if (format !== undefined && !(INPUT_FORMATS as readonly string[]).includes(format)) {
    fail(`--format must be one of ${INPUT_FORMATS.join(', ')}`);
  }
  return format as InputFormat | undefined;
}

function checkedOptions(options: PublishFileOptions): { batchSize: number; base: URL } {
  const batchSize = checkBatchSize(options.batchSize ?? 500);
  checkFormat(options.format);
  try {
    return { batchSize, base: new URL(options.url) };
  } catch {
    return fail(`--url ${options.url} is not a URL`);
  }
}

/** Publishes every record of `options.file`; resolves with what happened to each line. */
export async function publishFile(options: PublishFileOptions): Promise<PublishFileResult> {
  const { batchSize, base } = checkedOptions(options);
  const input = readInput(options.file, options.format);
  const result: PublishFileResult = {
    format: input.format,
    records: input.records.length + input.rejected.length,
    accepted: [],
    rejected: [...input.rejected],
    failed: [],
    ignored: input.ignored,
  };
  const sender: Sender = {
    base,
    apiKey: options.apiKey,
    ...retryDefaults(options),
    fileDigest: input.digest,
    objects: input.objects ?? [],
    outcome: result,
  };
  const progress = progressReporter(
    options.progress ?? 'auto',
    options.stderr ?? process.stderr,
    result.records,
    () => ({
      accepted: result.accepted.length,
      rejected: new Set(result.rejected.map((r) => r.line)).size,
    }),
  );
  progress.advance(input.rejected.length);
  try {
    for (let start = 0; start < input.records.length; start += batchSize) {
      const batch = input.records.slice(start, start + batchSize);
      await (input.format === 'stix' ? sendStix(sender, batch) : sendIndicators(sender, batch));
      progress.advance(batch.length);
    }
  } finally {
    progress.stop();
  }
  // Batches finish in order but client-side rejections come first: report in file order.
  for (const list of [result.accepted, result.rejected, result.failed]) list.sort((a, b) => a.line - b.line);
  return result;
}
