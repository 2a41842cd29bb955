import { open, type Database, type RootDatabase } from 'lmdb';
import { ThreatRelayError } from '../../contract/errors';

/**
 * The TAXII server's embedded store (lmdb): versioned STIX objects per
 * collection, in the order the server added them.
 *
 * Every version added to a collection gets the next **position** of that
 * collection: the microseconds since the epoch when it was added, raised to
 * one more than the last position when the clock has not moved on (or moved
 * back). Positions only grow, so `date_added` (the position as a timestamp)
 * is unique and increasing within a collection, and a page that ends at
 * position P continues at P+1 whatever was added meanwhile: new versions
 * always land after every position a client has already seen.
 *
 * The Kafka position of what has been added is written in the same
 * transaction as the objects, so after a crash the feed resumes exactly
 * after what the store holds: nothing twice, nothing lost.
 */

/** One stored version of an object. `json` is the object as served, serialized once at insert. */
export interface StoredVersion {
  collection: string;
  position: number;
  id: string;
  type: string;
  /** `modified`, or `created` for objects that are never versioned (marking definitions). */
  version: string;
  json: string;
}

interface EntryValue {
  id: string;
  type: string;
  version: string;
  json: string;
}

/** The first and last version of an object in a collection, by version timestamp. */
export interface Head {
  first: { version: string; position: number };
  last: { version: string; position: number };
}

/** An object to add, and what to do when the collection already has versions of it. */
export interface Addition {
  collection: string;
  object: Record<string, unknown>;
}

export interface KafkaPosition {
  topic: string;
  partition: number;
  /** The offset to read next. */
  next: string;
}

/**
 * Shapes an object into a new version of what the collection already holds
 * (`previous` is its latest version, when there is one): the STIX rules of
 * versioning live with the STIX code, not here.
 */
export type Versioner = (
  object: Record<string, unknown>,
  previous: Record<string, unknown> | undefined,
) => Record<string, unknown>;

type EntryKey = [string, number];
type VersionKey = [string, string, string];
type HeadKey = [string, string];

const MAX_POSITION = Number.MAX_SAFE_INTEGER;

export function versionOf(object: Record<string, unknown>): string {
  const v = object.modified ?? object.created;
  if (typeof v !== 'string') {
    throw new ThreatRelayError(
      'TR_INTERNAL',
      `STIX object ${String(object.id)} has neither modified nor created`,
    );
  }
  return v;
}

/** A position as a TAXII timestamp: microsecond precision, UTC. */
export function positionToTimestamp(position: number): string {
  const ms = Math.floor(position / 1000);
  const micros = String(position % 1000).padStart(3, '0');
  return new Date(ms).toISOString().replace(/Z$/, `${micros}Z`);
}

export class TaxiiStore {
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    private readonly entries: Database<EntryValue, EntryKey>,
    private readonly versions: Database<number, VersionKey>,
    private readonly heads: Database<Head, HeadKey>,
    /** ['seq', collection] → last position; ['offset', topic, partition] → next offset; ['event', collection, source, eventId] → 1. */
    private readonly meta: Database<number | string, (string | number)[]>,
  ) {}

  static open(path: string): TaxiiStore {
    const root = open({ path, compression: false });
    return new TaxiiStore(
      root,
      root.openDB<EntryValue, EntryKey>({ name: 'entries' }),
      root.openDB<number, VersionKey>({ name: 'versions' }),
      root.openDB<Head, HeadKey>({ name: 'heads' }),
      root.openDB<number | string, (string | number)[]>({ name: 'meta' }),
    );
  }

  /**
   * Adds the events' objects and records the Kafka position they came from,
   * in one transaction, and resolves once it is on disk. An event already
   * added (same collection, source and eventId: a re-read after a crash, a
   * producer's retry) and a version a collection already holds are skipped.
   * Resolves with the number of versions added.
   */
  async add(
    events: { eventKey: string; additions: Addition[] }[],
    position: KafkaPosition | undefined,
    versioner: Versioner,
    now: () => number = Date.now,
  ): Promise<number> {
    this.assertOpen();
    const added = await this.root.transaction(() => {
      let count = 0;
      for (const { eventKey, additions } of events) {
        const collections = [...new Set(additions.map((a) => a.collection))];
        if (collections.some((c) => this.meta.doesExist(['event', c, eventKey]))) continue;
        for (const a of additions) count += this.addVersion(a, versioner, now);
        for (const c of collections) this.meta.putSync(['event', c, eventKey], 1);
      }
      if (position) this.meta.putSync(['offset', position.topic, position.partition], position.next);
      return count;
    });
    // A commit is visible before it is on disk; the caller commits Kafka offsets only after this.
    await this.root.flushed;
    return added;
  }

  private addVersion(a: Addition, versioner: Versioner, now: () => number): number {
    const id = String(a.object.id);
    const head = this.heads.get([a.collection, id]);
    const previous = head ? this.entryJson(a.collection, head.last.position) : undefined;
    const object = versioner(a.object, previous);
    const version = versionOf(object);
    if (this.versions.doesExist([a.collection, id, version])) return 0;
    const last = (this.meta.get(['seq', a.collection]) as number | undefined) ?? 0;
    const position = Math.max(now() * 1000, last + 1);
    this.meta.putSync(['seq', a.collection], position);
    this.entries.putSync([a.collection, position], {
      id,
      type: String(object.type),
      version,
      json: JSON.stringify(object),
    });
    this.versions.putSync([a.collection, id, version], position);
    const mark = { version, position };
    this.heads.putSync([a.collection, id], {
      first: !head || version < head.first.version ? mark : head.first,
      last: !head || version > head.last.version ? mark : head.last,
    });
    return 1;
  }

  private entryJson(collection: string, position: number): Record<string, unknown> | undefined {
    const e = this.entries.get([collection, position]);
    return e ? (JSON.parse(e.json) as Record<string, unknown>) : undefined;
  }

  /**
   * Versions after `after` in position order that `accept` keeps, at most
   * `limit`; `more` says whether another accepted version follows. Bounded:
   * it reads at most `scanLimit` entries, and then reports `more` with the
   * position it stopped at, so a filter that matches little cannot make one
   * request read the whole collection.
   */
  page(
    collection: string,
    after: number,
    limit: number,
    accept: (v: StoredVersion) => boolean,
    scanLimit = 100_000,
  ): { versions: StoredVersion[]; more: boolean; scannedTo: number } {
    this.assertOpen();
    const out: StoredVersion[] = [];
    let scanned = 0;
    let scannedTo = after;
    for (const { key, value } of this.entries.getRange({
      start: [collection, after + 1],
      end: [collection, MAX_POSITION],
    })) {
      const v: StoredVersion = { collection, position: key[1], ...value };
      if (accept(v)) {
        if (out.length === limit) return { versions: out, more: true, scannedTo };
        out.push(v);
      }
      scannedTo = key[1];
      if (++scanned >= scanLimit) return { versions: out, more: true, scannedTo };
    }
    return { versions: out, more: false, scannedTo };
  }

  /** Every version of one object in a collection, oldest version first. */
  versionsOf(collection: string, id: string): StoredVersion[] {
    this.assertOpen();
    const out: StoredVersion[] = [];
    for (const { value: position } of this.versions.getRange({
      start: [collection, id, ''],
      end: [collection, id, '\uffff'],
    })) {
      const e = this.entries.get([collection, position]);
      if (e) out.push({ collection, position, ...e });
    }
    return out;
  }

  head(collection: string, id: string): Head | undefined {
    return this.heads.get([collection, id]);
  }

  /** Versions in a collection. */
  count(collection: string): number {
    return this.entries.getCount({ start: [collection, 0], end: [collection, MAX_POSITION] });
  }

  /** The next offset to read per `topic` and partition, for what the store holds; empty on a cold start. */
  offsets(topic: string): Map<number, string> {
    const out = new Map<number, string>();
    for (const { key, value } of this.meta.getRange({
      start: ['offset', topic],
      end: ['offset', topic, MAX_POSITION],
    })) {
      out.set(key[2] as number, value as string);
    }
    return out;
  }

  /** Raw reads of a collection's stored JSON in position order: the bench's baseline. */
  *rawJson(collection: string): Iterable<string> {
    for (const { value } of this.entries.getRange({
      start: [collection, 0],
      end: [collection, MAX_POSITION],
    })) {
      yield value.json;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the TAXII store is closed');
  }
}
