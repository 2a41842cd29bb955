import { open, type Database, type RootDatabase } from 'lmdb';
import { ThreatRelayError } from '../../contract/errors';
import { decideReport, liveSources, reportExpiresAt, type Sources } from './rules';
import {
  assertStorable,
  eventScope,
  type BatchMark,
  type DedupDecision,
  type DedupInput,
  type DedupOutcome,
  type DedupStore,
} from './types';

/**
 * The dedup store on local disk (lmdb), for a subscription run by a single
 * instance. Each `record` is one lmdb write transaction, and lmdb allows one
 * writer at a time, so check-and-set is atomic even across processes that
 * open the same directory.
 *
 * lmdb has no TTLs, so expiry is an index ordered by time: every entry has an
 * index row `[expiresAt, 'e' | 'k', id]`, and each `record` first deletes a
 * bounded number of expired entries. Every `record` adds at most two index
 * rows and removes up to SWEEP_LIMIT, so the store stays bounded by what the
 * window holds without a background timer. Reads also check expiry, so an
 * entry not yet swept never counts.
 */

interface EventEntry {
  /** The original decision, returned again on a repeat. */
  o: DedupDecision;
  /** The position of the copy that was recorded. */
  p: string;
  x: number;
  /** The webhook batch it went out in: [webhookId, size]. */
  b?: [string, number];
}

interface KeyEntry {
  /** [org, expiresAt] pairs: plain arrays survive msgpack exactly, unlike Maps. */
  s: [string, number][];
  /** The latest expiry among the sources: when the entry as a whole goes. */
  x: number;
}

type ExpiryRow = [number, 'e' | 'k', string];

const SWEEP_LIMIT = 100;
const DUPLICATE: DedupOutcome = { kind: 'duplicate' };

export interface EmbeddedDedupStoreOptions {
  path: string;
  windowMs: number;
}

export class EmbeddedDedupStore implements DedupStore {
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    private readonly events: Database<EventEntry, string>,
    private readonly keys: Database<KeyEntry, string>,
    private readonly expiry: Database<true, ExpiryRow>,
    private readonly windowMs: number,
  ) {}

  static open(options: EmbeddedDedupStoreOptions): EmbeddedDedupStore {
    const root = open({ path: options.path, compression: false, mapSize: 2 ** 30 });
    return new EmbeddedDedupStore(
      root,
      root.openDB<EventEntry, string>({ name: 'events' }),
      root.openDB<KeyEntry, string>({ name: 'keys' }),
      root.openDB<true, ExpiryRow>({ name: 'expiry' }),
      options.windowMs,
    );
  }

  async record(input: DedupInput, now = Date.now()): Promise<DedupOutcome> {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the dedup store is closed');
    assertStorable(input);
    // `transaction` runs the callback inside the write transaction without blocking the event loop on
    // the commit, so Kafka heartbeats keep flowing; callbacks still run one at a time.
    const outcome = await this.root.transaction(() => this.recordInTransaction(input, now));
    // A commit is visible before it is on disk; the consumer may act on an outcome only once it would
    // survive a crash.
    await this.root.flushed;
    return outcome;
  }

  async markBatch(events: readonly Pick<DedupInput, 'org' | 'eventId'>[], mark: BatchMark): Promise<void> {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the dedup store is closed');
    await this.root.transaction(() => {
      for (const e of events) {
        const key = eventScope(e);
        const entry = this.events.get(key);
        if (entry) this.events.putSync(key, { ...entry, b: [mark.webhookId, mark.size] });
      }
    });
    await this.root.flushed;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the dedup store is closed');
    this.keys.getKeysCount();
  }

  /** Entries currently stored, expired or not; for metrics and tests of boundedness. */
  entryCount(): { events: number; keys: number } {
    return { events: this.events.getKeysCount(), keys: this.keys.getKeysCount() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  private recordInTransaction(input: DedupInput, now: number): DedupOutcome {
    this.sweep(now);
    const eventKey = eventScope(input);
    const seen = this.events.get(eventKey);
    if (seen !== undefined && seen.x > now) {
      if (seen.p !== input.position) return DUPLICATE;
      return {
        ...seen.o,
        repeat: true,
        ...(seen.b ? { batch: { webhookId: seen.b[0], size: seen.b[1] } } : {}),
      };
    }
    if (seen !== undefined) this.expiry.removeSync([seen.x, 'e', eventKey]);

    const entry = this.keys.get(input.key);
    const live = liveSources(entry?.s ?? [], now);
    const expiresAt = reportExpiresAt(input.validUntil, now, this.windowMs);
    const { decision, sources } = decideReport(input, live, expiresAt);
    this.writeKey(input.key, entry, sources);

    const eventExpiresAt = now + this.windowMs;
    this.events.putSync(eventKey, { o: decision, p: input.position, x: eventExpiresAt });
    this.expiry.putSync([eventExpiresAt, 'e', eventKey], true);
    return { ...decision, repeat: false };
  }

  private writeKey(key: string, previous: KeyEntry | undefined, sources: Sources): void {
    if (previous !== undefined) this.expiry.removeSync([previous.x, 'k', key]);
    if (sources.size === 0) {
      if (previous !== undefined) this.keys.removeSync(key);
      return;
    }
    const x = Math.max(...sources.values());
    this.keys.putSync(key, { s: [...sources], x });
    this.expiry.putSync([x, 'k', key], true);
  }

  private sweep(now: number): void {
    // Collected before deleting: removing rows under an open cursor is not something to rely on.
    const due: ExpiryRow[] = [];
    for (const row of this.expiry.getKeys({ limit: SWEEP_LIMIT })) {
      if (row[0] > now) break;
      due.push(row);
    }
    for (const row of due) {
      this.expiry.removeSync(row);
      if (row[1] === 'e') this.events.removeSync(row[2]);
      else this.keys.removeSync(row[2]);
    }
  }
}
