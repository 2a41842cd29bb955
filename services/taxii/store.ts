import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment } from '../platform/lmdb';
import { ThreatRelayError } from '../contract/errors';
import { versionOf } from './objects';

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
 *
 * **Expiry.** The store is a view of topics that keep records for a limited
 * time, so it forgets at the same pace: every version and every remembered
 * event carries the time of the newest record that brought it (its
 * `producedAt`), and `expire(cutoff)` drops those older than the cutoff, a
 * bounded number per call. A version several records bring (a source's
 * `identity`, a TLP `marking-definition`) takes the newest one's time, so it
 * stays as long as any record that carries it. What is left are the objects
 * and versions a store rebuilt from the topics at that moment would hold
 * (only a version's `created` may still be that of an expired first version,
 * where a rebuild would take the oldest kept one's). lmdb has no TTLs, so
 * the times are an index (`aging`) in time order.
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
  /**
   * Milliseconds since the epoch of the newest record that brought this version (its `producedAt`).
   * Absent in stores written before expiry existed: their versions age from their position.
   */
  at?: number;
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
/** [time, 'v', collection, position] for a version, [time, 'e', collection, eventKey] for a remembered event. */
type AgingKey = [number, 'v', string, number] | [number, 'e', string, string];

/** What one `expire` call removed. */
export interface Expired {
  versions: number;
  events: number;
  /** Whether more is older than the cutoff than this call was allowed to remove. */
  more: boolean;
}

const MAX_POSITION = Number.MAX_SAFE_INTEGER;

export class TaxiiStore {
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    private readonly entries: Database<EntryValue, EntryKey>,
    private readonly versions: Database<number, VersionKey>,
    private readonly heads: Database<Head, HeadKey>,
    /** ['seq', collection] → last position; ['offset', topic, partition] → next offset; ['event', collection, source, eventId] → 1. */
    private readonly meta: Database<number | string, (string | number)[]>,
    private readonly aging: Database<true, AgingKey>,
  ) {}

  static open(path: string, now: () => number = Date.now): TaxiiStore {
    const root = openEnvironment(path);
    const store = new TaxiiStore(
      root,
      root.openDB<EntryValue, EntryKey>({ name: 'entries' }),
      root.openDB<number, VersionKey>({ name: 'versions' }),
      root.openDB<Head, HeadKey>({ name: 'heads' }),
      root.openDB<number | string, (string | number)[]>({ name: 'meta' }),
      root.openDB<true, AgingKey>({ name: 'aging' }),
    );
    store.indexAging(now);
    return store;
  }

  /**
   * Once, for a store written before expiry existed: every version ages from its position (when it
   * was added, the latest its record can have been produced), every remembered event from now.
   */
  private indexAging(now: () => number): void {
    if (this.meta.get(['aging']) !== undefined) return;
    this.root.transactionSync(() => {
      for (const { key, value } of this.entries.getRange()) {
        this.aging.putSync([value.at ?? Math.floor(key[1] / 1000), 'v', key[0], key[1]], true);
      }
      const at = now();
      for (const { key } of this.meta.getRange({ start: ['event'], end: ['event', '\uffff'] })) {
        this.aging.putSync([at, 'e', key[1] as string, key[2] as string], true);
      }
      this.meta.putSync(['aging'], 1);
    });
  }

  /**
   * Adds the events' objects and records the Kafka position they came from,
   * in one transaction, and resolves once it is on disk. An event already
   * added (same collection, source and eventId: a re-read after a crash, a
   * producer's retry) and a version a collection already holds are skipped;
   * such a version takes the event's time `at` (its `producedAt`, in ms;
   * default now) when that is newer than its own, so it expires with the
   * newest record that carries it. Resolves with the number of versions added.
   */
  async add(
    events: { eventKey: string; additions: Addition[]; at?: number }[],
    position: KafkaPosition | undefined,
    versioner: Versioner,
    now: () => number = Date.now,
  ): Promise<number> {
    this.assertOpen();
    const added = await this.root.transaction(() => {
      let count = 0;
      // Versions brought again, with the newest time: renewed once after the loop, not once per record
      // (every record of an org brings its identity and its TLP marking again).
      const renewals = new Map<string, { collection: string; position: number; at: number }>();
      for (const { eventKey, additions, at = now() } of events) {
        const collections = [...new Set(additions.map((a) => a.collection))];
        if (collections.some((c) => this.meta.doesExist(['event', c, eventKey]))) continue;
        for (const a of additions) count += this.addVersion(a, versioner, now, at, renewals);
        for (const c of collections) {
          this.meta.putSync(['event', c, eventKey], at);
          this.aging.putSync([at, 'e', c, eventKey], true);
        }
      }
      for (const r of renewals.values()) this.renew(r.collection, r.position, r.at);
      if (position) this.meta.putSync(['offset', position.topic, position.partition], position.next);
      return count;
    });
    // A commit is visible before it is on disk; the caller commits Kafka offsets only after this.
    await this.root.flushed;
    return added;
  }

  private addVersion(
    a: Addition,
    versioner: Versioner,
    now: () => number,
    at: number,
    renewals: Map<string, { collection: string; position: number; at: number }>,
  ): number {
    const id = String(a.object.id);
    const head = this.heads.get([a.collection, id]);
    const previous = head ? this.entryJson(a.collection, head.last.position) : undefined;
    const object = versioner(a.object, previous);
    const version = versionOf(object);
    const held = this.versions.get([a.collection, id, version]);
    if (held !== undefined) {
      const key = `${a.collection}\u0000${held}`;
      const known = renewals.get(key);
      if (!known) renewals.set(key, { collection: a.collection, position: held, at });
      else if (at > known.at) known.at = at;
      return 0;
    }
    const last = (this.meta.get(['seq', a.collection]) as number | undefined) ?? 0;
    const position = Math.max(now() * 1000, last + 1);
    this.meta.putSync(['seq', a.collection], position);
    this.entries.putSync([a.collection, position], {
      id,
      type: String(object.type),
      version,
      json: JSON.stringify(object),
      at,
    });
    this.aging.putSync([at, 'v', a.collection, position], true);
    this.versions.putSync([a.collection, id, version], position);
    const mark = { version, position };
    this.heads.putSync([a.collection, id], {
      first: !head || version < head.first.version ? mark : head.first,
      last: !head || version > head.last.version ? mark : head.last,
    });
    return 1;
  }

  /** A version another record brought again: it now ages from the newer of the two records. */
  private renew(collection: string, position: number, at: number): void {
    const entry = this.entries.get([collection, position]);
    if (!entry) return;
    const was = entry.at ?? Math.floor(position / 1000);
    if (was >= at) return;
    this.aging.removeSync([was, 'v', collection, position]);
    this.aging.putSync([at, 'v', collection, position], true);
    this.entries.putSync([collection, position], { ...entry, at });
  }

  /**
   * Drops every version, and forgets every event, whose newest record is
   * older than `cutoff` (ms since the epoch), at most `limit` of them in one
   * transaction, and resolves once that is on disk. An object whose first or
   * last version goes gets its head from the versions left; one with none
   * left is gone from the collection. Forgetting an event is what a rebuild
   * does too: the topics no longer hold its record.
   */
  async expire(cutoff: number, limit = 1000): Promise<Expired> {
    this.assertOpen();
    const expired = await this.root.transaction(() => {
      // Collected before deleting: removing rows under an open cursor is not something to rely on.
      const due: AgingKey[] = [];
      for (const key of this.aging.getKeys({ end: [cutoff], limit: limit + 1 })) due.push(key);
      const more = due.length > limit;
      const out: Expired = { versions: 0, events: 0, more };
      for (const key of due.slice(0, limit)) {
        this.aging.removeSync(key);
        if (key[1] === 'e') {
          this.meta.removeSync(['event', key[2], key[3]]);
          out.events += 1;
        } else out.versions += this.removeVersion(key[2], key[3]);
      }
      return out;
    });
    await this.root.flushed;
    return expired;
  }

  private removeVersion(collection: string, position: number): number {
    const entry = this.entries.get([collection, position]);
    if (!entry) return 0;
    this.entries.removeSync([collection, position]);
    this.versions.removeSync([collection, entry.id, entry.version]);
    const head = this.heads.get([collection, entry.id]);
    if (head && (head.first.position === position || head.last.position === position)) {
      // Versions are keyed by their timestamp: the first and last left are the range's ends.
      let first: Head['first'] | undefined;
      let last: Head['last'] | undefined;
      for (const { key, value } of this.versions.getRange({
        start: [collection, entry.id, ''],
        end: [collection, entry.id, '\uffff'],
      })) {
        first ??= { version: key[2], position: value };
        last = { version: key[2], position: value };
      }
      if (first && last) this.heads.putSync([collection, entry.id], { first, last });
      else this.heads.removeSync([collection, entry.id]);
    }
    return 1;
  }

  /** The time (ms) of the oldest record the store still holds something of, if any. */
  oldest(): number | undefined {
    this.assertOpen();
    for (const key of this.aging.getKeys({ limit: 1 })) return key[0];
    return undefined;
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
