import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isRecord } from '../../platform/json';
import { fail } from '../context';

/**
 * Reading what `publish --format misp` takes: one event file, or a MISP
 * feed directory (`manifest.json` naming `<uuid>.json` event files, and
 * `hashes.csv` when the feed gives digests). A feed whose files disagree
 * with its manifest or its digests is refused whole, before anything is
 * sent: it was altered, or is being written.
 */

export interface MispSource {
  /** The file, relative to the feed directory for a feed. */
  file: string;
  text: string;
}

function readText(file: string): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    return fail(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function parse(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(`${file} is not valid JSON (${(err as Error).message}); nothing was published`);
  }
}

/** A directory, or a JSON file holding a MISP event (`{"Event": ...}`). */
export function isMispSource(target: string): boolean {
  try {
    if (statSync(target).isDirectory()) return existsSync(path.join(target, 'manifest.json'));
  } catch {
    return false;
  }
  return /^\s*\{\s*"Event"\s*:/.test(readText(target).slice(0, 200));
}

/** The event inside a feed file, as far as the digests need it. */
interface FeedEvent {
  uuid: unknown;
  attributes: { path: string; type: string; value: string }[];
}

function feedEvent(doc: unknown): FeedEvent {
  const event = isRecord(doc) && isRecord(doc.Event) ? doc.Event : isRecord(doc) ? doc : {};
  const attributes: FeedEvent['attributes'] = [];
  const add = (list: unknown, at: string): void => {
    (Array.isArray(list) ? list : []).forEach((a, i) => {
      if (isRecord(a) && typeof a.type === 'string' && a.value !== undefined) {
        attributes.push({ path: `${at}.${i}`, type: a.type, value: String(a.value) });
      }
    });
  };
  add(event.Attribute, 'Event.Attribute');
  (Array.isArray(event.Object) ? event.Object : []).forEach((o, i) => {
    if (isRecord(o)) add(o.Attribute, `Event.Object.${i}.Attribute`);
  });
  return { uuid: event.uuid, attributes };
}

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

/**
 * The digests MISP's feed generator writes for an event: the MD5 of each
 * attribute value, of each `|`-part for composite types and malware samples.
 */
function expectedDigests(event: FeedEvent): { digest: string; where: string }[] {
  return event.attributes.flatMap((a) => {
    const parts = a.type.includes('|') || a.type === 'malware-sample' ? a.value.split('|') : [a.value];
    return parts.map((p, i) => ({
      digest: md5(p),
      where: parts.length > 1 ? `${a.path}.value part ${i}` : `${a.path}.value`,
    }));
  });
}

/** hashes.csv lines (`<md5>,<event uuid>`) by event uuid, with their line numbers. */
function readHashes(file: string): Map<string, { digest: string; line: number }[]> {
  const byEvent = new Map<string, { digest: string; line: number }[]>();
  readText(file)
    .split(/\r?\n/)
    .forEach((raw, i) => {
      if (raw.trim() === '') return;
      const m = /^([0-9a-f]{32}),([0-9a-f-]{36})$/i.exec(raw.trim());
      if (!m)
        fail(`${file} line ${i + 1}: expected <md5>,<event uuid>, got ${JSON.stringify(raw.slice(0, 80))}`);
      const uuid = m[2]!.toLowerCase();
      byEvent.set(uuid, [...(byEvent.get(uuid) ?? []), { digest: m[1]!.toLowerCase(), line: i + 1 }]);
    });
  return byEvent;
}

/** Every disagreement between an event's values and the digests hashes.csv lists for it. */
function digestProblems(
  file: string,
  uuid: string,
  event: FeedEvent,
  listed: { digest: string; line: number }[],
): string[] {
  const remaining = [...listed];
  const problems: string[] = [];
  for (const e of expectedDigests(event)) {
    const i = remaining.findIndex((l) => l.digest === e.digest);
    if (i >= 0) remaining.splice(i, 1);
    else
      problems.push(
        `${file}: ${e.where} has MD5 ${e.digest}, which hashes.csv does not list for event ${uuid}`,
      );
  }
  for (const l of remaining) {
    problems.push(
      `hashes.csv line ${l.line}: ${l.digest} for event ${uuid} is the MD5 of no value in ${file}`,
    );
  }
  return problems;
}

function readManifest(dir: string): string[] {
  const file = path.join(dir, 'manifest.json');
  const manifest = parse(file, readText(file));
  if (!isRecord(manifest)) fail(`${file} is not a MISP feed manifest: a JSON object keyed by event uuid`);
  const uuids = Object.keys(manifest);
  const bad = uuids.find((u) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(u));
  if (bad !== undefined) fail(`${file}: key ${JSON.stringify(bad)} is not an event uuid`);
  return uuids;
}

/** The events of a feed directory, checked against its manifest and hashes.csv. */
export function readMispFeed(dir: string): MispSource[] {
  const uuids = readManifest(dir);
  const hashesFile = path.join(dir, 'hashes.csv');
  const hashes = existsSync(hashesFile) ? readHashes(hashesFile) : undefined;
  const problems: string[] = [];
  const sources = uuids.map((uuid) => {
    const file = `${uuid}.json`;
    const full = path.join(dir, file);
    if (!existsSync(full)) fail(`manifest.json lists event ${uuid} but ${file} is not in ${dir}`);
    const text = readText(full);
    const event = feedEvent(parse(full, text));
    if (String(event.uuid).toLowerCase() !== uuid.toLowerCase()) {
      problems.push(
        `${file}: its event uuid is ${JSON.stringify(event.uuid)}, not ${uuid} as manifest.json says`,
      );
    }
    if (hashes)
      problems.push(...digestProblems(file, uuid.toLowerCase(), event, hashes.get(uuid.toLowerCase()) ?? []));
    return { file, text };
  });
  const listed = new Set(uuids.map((u) => u.toLowerCase()));
  for (const [uuid, lines] of hashes ?? []) {
    if (!listed.has(uuid))
      problems.push(`hashes.csv line ${lines[0]!.line}: event ${uuid} is not in manifest.json`);
  }
  if (problems.length > 0) {
    fail(
      `the MISP feed in ${dir} does not match its manifest or digests; nothing was published:\n${problems.join('\n')}`,
    );
  }
  return sources;
}

/** One event file, or every event of a feed directory. */
export function readMispSources(target: string): { sources: MispSource[]; feed: boolean } {
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch (err) {
    return fail(`cannot read ${target}: ${(err as Error).message}`);
  }
  if (isDir) return { sources: readMispFeed(target), feed: true };
  const text = readText(target);
  parse(target, text);
  return { sources: [{ file: path.basename(target), text }], feed: false };
}
