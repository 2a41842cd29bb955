import type { Head, StoredVersion } from './store';

/**
 * The pure parts of the TAXII 2.1 HTTP interface: media types, the query
 * parameters of the objects, manifest and versions endpoints (§3.4), and the
 * `next` cursor. Each problem is thrown as a TaxiiProblem with the status
 * the spec gives; the app turns it into a TAXII error message.
 */

export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';

export class TaxiiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

interface MediaRange {
  type: string;
  params: Map<string, string>;
}

function parseMediaRanges(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim());
      return {
        type: type.toLowerCase(),
        params: new Map(
          params.map((p) => {
            const eq = p.indexOf('=');
            return [
              p.slice(0, eq).trim().toLowerCase(),
              p
                .slice(eq + 1)
                .trim()
                .replace(/^"|"$/g, ''),
            ];
          }),
        ),
      };
    })
    .filter((r) => r.type !== '' && r.params.get('q') !== '0');
}

/**
 * Whether a request's Accept lets us answer `application/taxii+json;version=2.1`.
 * No Accept header means anything; `application/taxii+json` without a version
 * means the latest, which is 2.1 here (§1.6.8.1). Anything else is a 406.
 */
export function acceptsTaxii(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return parseMediaRanges(accept).some((r) => {
    if (r.type === '*/*' || r.type === 'application/*') return true;
    if (r.type !== 'application/taxii+json') return false;
    const version = r.params.get('version');
    return version === undefined || version === '2.1';
  });
}

/** Whether a request body's Content-Type is TAXII 2.1's. */
export function isTaxiiContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const [range] = parseMediaRanges(contentType);
  return range?.type === 'application/taxii+json' && (range.params.get('version') ?? '2.1') === '2.1';
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/;

/** A TAXII/STIX timestamp as microseconds since the epoch (finer digits are dropped). */
export function timestampMicros(value: string, parameter: string): number {
  const m = TIMESTAMP.exec(value);
  const ms = m ? Date.parse(`${m[1]}Z`) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw new TaxiiProblem(
      400,
      `Invalid ${parameter}`,
      `${parameter} must be a timestamp like 2026-11-03T12:00:00.000Z, not ${JSON.stringify(value.slice(0, 40))}`,
    );
  }
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** `next` is opaque to clients: the position the page ended at. */
export function encodeNext(position: number): string {
  return Buffer.from(`p${position}`).toString('base64url');
}

export function decodeNext(token: string): number {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const m = /^p(\d{1,16})$/.exec(text);
  if (!m || Buffer.from(text).toString('base64url') !== token) {
    throw new TaxiiProblem(400, 'Invalid next', 'next is not a value this server gave out');
  }
  return Number(m[1]);
}

export interface VersionSelector {
  all: boolean;
  first: boolean;
  last: boolean;
  /** Specific versions, as milliseconds since the epoch. */
  at: Set<number>;
}

export interface ObjectQuery {
  /** Versions added after this position (microseconds) only. */
  after: number;
  limit: number;
  ids?: Set<string>;
  types?: Set<string>;
  versions: VersionSelector;
  /** False when `match[spec_version]` excludes 2.1: nothing here matches then. */
  specVersionMatches: boolean;
}

type Query = Record<string, unknown>;

function param(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  const text = Array.isArray(v) ? v.join(',') : String(v);
  return text;
}

function list(query: Query, name: string): string[] | undefined {
  const v = param(query, name);
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}

const KNOWN = new Set([
  'added_after',
  'limit',
  'next',
  'match[id]',
  'match[type]',
  'match[version]',
  'match[spec_version]',
]);

export interface QueryOptions {
  defaultLimit: number;
  maxLimit: number;
  /** The default of match[version]: `last` for objects and manifests, `all` for the versions endpoint. */
  defaultVersions: 'last' | 'all';
  /** Parameters the endpoint does not take (e.g. match[id] on an object's own URL). */
  refuse?: string[];
}

export function parseObjectQuery(query: Query, options: QueryOptions): ObjectQuery {
  for (const name of Object.keys(query)) {
    if (!KNOWN.has(name) || options.refuse?.includes(name)) {
      throw new TaxiiProblem(
        400,
        'Unsupported parameter',
        `this endpoint does not take the parameter ${name}`,
      );
    }
  }
  const limitText = param(query, 'limit');
  let limit = options.defaultLimit;
  if (limitText !== undefined) {
    if (!/^\d{1,9}$/.test(limitText) || Number(limitText) < 1) {
      throw new TaxiiProblem(400, 'Invalid limit', 'limit must be a positive integer');
    }
    limit = Math.min(Number(limitText), options.maxLimit);
  }
  const addedAfter = param(query, 'added_after');
  const next = param(query, 'next');
  const after = Math.max(
    addedAfter !== undefined ? timestampMicros(addedAfter, 'added_after') : 0,
    next !== undefined ? decodeNext(next) : 0,
  );
  const ids = list(query, 'match[id]');
  const types = list(query, 'match[type]');
  const specVersions = list(query, 'match[spec_version]');
  const versionWords = list(query, 'match[version]') ?? [options.defaultVersions];
  const versions: VersionSelector = { all: false, first: false, last: false, at: new Set() };
  for (const w of versionWords) {
    if (w === 'all' || w === 'first' || w === 'last') versions[w] = true;
    else versions.at.add(Math.floor(timestampMicros(w, 'match[version]') / 1000));
  }
  return {
    after,
    limit,
    ...(ids ? { ids: new Set(ids) } : {}),
    ...(types ? { types: new Set(types) } : {}),
    versions,
    specVersionMatches: !specVersions || specVersions.includes('2.1'),
  };
}

/** Whether a stored version is one the query asks for; `head` is its object's first and last version. */
export function matches(q: ObjectQuery, v: StoredVersion, head: Head | undefined): boolean {
  if (!q.specVersionMatches) return false;
  if (q.ids && !q.ids.has(v.id)) return false;
  if (q.types && !q.types.has(v.type)) return false;
  const s = q.versions;
  if (s.all) return true;
  if (s.first && head?.first.position === v.position) return true;
  if (s.last && head?.last.position === v.position) return true;
  return s.at.size > 0 && s.at.has(Date.parse(v.version));
}

/** A position as a TAXII timestamp: microsecond precision, UTC. */
export function positionToTimestamp(position: number): string {
  const ms = Math.floor(position / 1000);
  const micros = String(position % 1000).padStart(3, '0');
  return new Date(ms).toISOString().replace(/Z$/, `${micros}Z`);
}
