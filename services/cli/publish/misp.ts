import { fail } from '../context';
import { digest } from './read';
import { readMispSources, type MispSource } from './misp-feed';
import { post, retryDefaults, type Sender } from './send';

/**
 * `threatrelay publish --format misp PATH`: a MISP event file or feed
 * directory through POST /v1/misp/events, one request per event. Each
 * event ends up accepted (its receipts and skipped attributes listed),
 * rejected (the producer's 400, with every reason), or failed (the
 * producer stayed unreachable): nothing is dropped without a word.
 */

export { isMispSource } from './misp-feed';

export interface MispPublishOptions {
  path: string;
  url: string;
  apiKey: string;
  /** For attributes whose TLP is amber+strict or red. */
  recipients?: string[];
  includeNonIds?: boolean;
  maxAttempts?: number;
  maxRetryWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface MispReceipt {
  uuid: string;
  part: number;
  path: string;
  mispType: string;
  eventId: string;
  key: string;
}

export interface MispSkippedAttribute {
  uuid: string;
  path: string;
  part?: number;
  mispType: string;
  why: string;
  code?: string;
  reason: string;
}

export interface MispEventOutcome {
  file: string;
  status: 'accepted' | 'rejected' | 'failed';
  receipts: MispReceipt[];
  skipped: MispSkippedAttribute[];
  /** For rejected and failed events: every reason the producer gave. */
  problems: string[];
}

export interface MispPublishResult {
  feed: boolean;
  events: MispEventOutcome[];
}

function query(options: MispPublishOptions): string {
  const q = new URLSearchParams();
  if (options.recipients?.length) q.set('recipients', options.recipients.join(','));
  if (options.includeNonIds) q.set('includeNonIds', 'true');
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function publishOne(
  options: MispPublishOptions,
  base: URL,
  source: MispSource,
): Promise<MispEventOutcome> {
  const route = `/v1/misp/events${query(options)}`;
  const sender: Sender = {
    base,
    apiKey: options.apiKey,
    ...retryDefaults(options),
    // The options are part of the request: another choice of them is another Idempotency-Key.
    fileDigest: digest(`${source.text}\n${route}`),
    objects: [],
    outcome: { accepted: [], rejected: [], failed: [] },
  };
  const out: MispEventOutcome = {
    file: source.file,
    status: 'failed',
    receipts: [],
    skipped: [],
    problems: [],
  };
  const answer = await post(sender, route, JSON.parse(source.text), 1);
  if (answer.kind === 'failed') {
    out.problems.push(answer.reason);
  } else if (answer.kind === 'invalid') {
    const e = answer.body.error;
    out.status = 'rejected';
    out.problems = (e?.details ?? []).map((d) => `${d.path}: ${d.message}`);
    if (out.problems.length === 0)
      out.problems.push(`${answer.status} ${e?.code ?? ''}: ${e?.message ?? ''}`);
  } else {
    out.status = 'accepted';
    out.receipts = (Array.isArray(answer.body.receipts) ? answer.body.receipts : []) as MispReceipt[];
    out.skipped = (Array.isArray(answer.body.skipped) ? answer.body.skipped : []) as MispSkippedAttribute[];
  }
  return out;
}

/** Publishes every event of `options.path`, in manifest order for a feed. */
export async function publishMisp(options: MispPublishOptions): Promise<MispPublishResult> {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    return fail(`--url ${options.url} is not a URL`);
  }
  const { sources, feed } = readMispSources(options.path);
  const events: MispEventOutcome[] = [];
  for (const source of sources) events.push(await publishOne(options, base, source));
  return { feed, events };
}

/** 0 when every event was accepted and no attribute refused; 1 otherwise. Unmapped or non-IDS skips are not failures. */
export function mispExitCode(result: MispPublishResult): 0 | 1 {
  const clean = result.events.every(
    (e) => e.status === 'accepted' && !e.skipped.some((s) => s.why === 'refused'),
  );
  return clean ? 0 : 1;
}

export function summarizeMisp(result: MispPublishResult): string {
  const count = (why: string, e: MispEventOutcome): number => e.skipped.filter((s) => s.why === why).length;
  const out = [`${result.events.length} MISP event(s) read${result.feed ? ' from the feed' : ''}`];
  for (const e of result.events) {
    if (e.status !== 'accepted') {
      out.push(`${e.file}: ${e.status}`, ...e.problems.map((p) => `  ${p}`));
      continue;
    }
    out.push(
      `${e.file}: ${e.receipts.length} indicator(s) published; skipped ${count('refused', e)} refused, ` +
        `${count('unmapped', e)} unmapped, ${count('not-to-ids', e)} not to_ids, ${count('reference', e)} reference(s)`,
    );
    for (const s of e.skipped.filter((x) => x.why === 'refused')) {
      out.push(
        `  ${s.uuid} ${s.path}${s.part === undefined ? '' : ` part ${s.part}`} (${s.mispType}): ${s.reason}`,
      );
    }
  }
  return out.join('\n');
}
