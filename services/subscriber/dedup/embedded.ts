import { resolve } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment as openLmdb } from '../../platform/lmdb';
import { ThreatRelayError } from '../../contract/errors';
import {
  decodeBatch,
  decodeEvent,
  decodeOpinion,
  encodeOpinion,
  decodeKey,
  encodeBatch,
  encodeEvent,
  encodeKey,
  eventRowKey,
  keyExpiresAt,
  keyRowKey,
  positionDigest,
  batchTag,
  rowExpiresAt,
} from './embedded-rows';
import { decideReport, decideSighting, liveSources, reportExpiresAt, type Sources } from './rules';
import {
  assertStorable,
  type BatchMark,
  type DedupDecision,
  type DedupInput,
  type DedupOutcome,
  type DedupStore,
} from './types';

/**
 * The dedup store on local disk (lmdb), for a subscription run by a single
 * instance: three tables named after it in an lmdb environment that the
 * process's subscriptions share. Each `record` is one lmdb write
 * transaction, and lmdb allows one writer at a time, so check-and-set is
 * atomic even across processes that open the same directory.
 *
 * Rows are small fixed binary layouts (embedded-rows.ts): an event costs one
 * event row and one key row, about 170 bytes on disk with lmdb's pages, and
 * a webhook batch one batch row. lmdb has no TTLs and an index ordered by
 * time would double the store, so expiry is a sweep instead: every `record`
 * looks at the next few rows of each table after where the last sweep
 * stopped (wrapping around) and deletes the expired ones. With SWEEP rows
 * per table per record, one pass over a table of E rows takes E/SWEEP
 * records, so expired rows are at most a 1/SWEEP share of it: the store holds
 * what the window holds, and a quarter more at most for SWEEP = 4. Reads
 * check expiry, so a row not yet swept never counts.
 */

/** Rows each `record` examines per table, in one range read every SWEEP_EVERY records. */
const SWEEP = 4;
const SWEEP_EVERY = 16;
const DUPLICATE: DedupOutcome = { kind: 'duplicate' };

export interface EmbeddedDedupStoreOptions {
  /** The lmdb environment's directory; the stores of one process share it. */
  path: string;
  /** The store's tables are named after it: one store per subscription. Default `''`. */
  name?: string;
  windowMs: number;
}

/**
 * Open environments by directory, shared by the stores in them. One
 * environment per process rather than one per subscription: one map, one
 * writer, and one disk flush for the transactions of every subscription that
 * are ready together, instead of one each.
 */
const ENVIRONMENTS = new Map<string, { root: RootDatabase; users: number }>();

/** Tables in one environment: four per store, so up to 256 subscriptions per data directory. */
const MAX_TABLES = 1024;

function openEnvironment(path: string): RootDatabase {
  const known = ENVIRONMENTS.get(path);
  if (known) {
    known.users += 1;
    return known.root;
  }
  const root = openLmdb(path, { maxDbs: MAX_TABLES });
  ENVIRONMENTS.set(path, { root, users: 1 });
  return root;
}

async function closeEnvironment(path: string): Promise<void> {
  const known = ENVIRONMENTS.get(path);
  if (!known) return;
  known.users -= 1;
  if (known.users > 0) {
    // Others still write here: only this store's writes need to be on disk.
    await known.root.flushed;
    return;
  }
  ENVIRONMENTS.delete(path);
  await known.root.close();
}

type Table = Database<Buffer, Buffer>;

export class EmbeddedDedupStore implements DedupStore {
  private closed = false;
  private recorded = 0;
  /** Where the next sweep of each table starts. */
  private readonly sweptTo = new Map<Table, Buffer>();

  private constructor(
    private readonly path: string,
    private readonly root: RootDatabase,
    private readonly events: Table,
    private readonly keys: Table,
    private readonly batches: Table,
    private readonly opinions: Table,
    private readonly windowMs: number,
  ) {}

  static open(options: EmbeddedDedupStoreOptions): EmbeddedDedupStore {
    const path = resolve(options.path);
    const root = openEnvironment(path);
    const prefix = options.name ? `${options.name}/` : '';
    const table = (name: string): Table =>
      root.openDB<Buffer, Buffer>({ name: `${prefix}${name}`, keyEncoding: 'binary', encoding: 'binary' });
    return new EmbeddedDedupStore(
      path,
      root,
      table('events.v2'),
      table('keys.v2'),
      table('batches.v2'),
      table('opinions.v1'),
      options.windowMs,
    );
  }

  async record(input: DedupInput, now = Date.now()): Promise<DedupOutcome> {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the dedup store is closed');
    assertStorable(input);
    const position = positionDigest(input.position);
    // `transaction` runs the callback inside the write transaction without blocking the event loop on
    // the commit, so Kafka heartbeats keep flowing; callbacks still run one at a time.
    // The commit is visible before it is on disk, and survives a crash of this process: enough to act
    // on (a POST). Before an offset moves past the record, the consumer waits for `durable`.
    return this.root.transaction(() => this.recordInTransaction(input, position, now));
  }

  async durable(): Promise<void> {
    await this.root.flushed;
  }

  async markBatch(events: readonly Pick<DedupInput, 'org' | 'eventId'>[], mark: BatchMark): Promise<void> {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the dedup store is closed');
    const tag = batchTag(mark.webhookId);
    await this.root.transaction(() => {
      let latest = 0;
      for (const e of events) {
        const key = eventRowKey(e.org, e.eventId);
        const row = this.events.get(key);
        if (!row) continue;
        const event = decodeEvent(row);
        this.events.putSync(key, encodeEvent({ ...event, batch: tag }));
        latest = Math.max(latest, event.expiresAt);
      }
      if (latest > 0) this.batches.putSync(tag, encodeBatch(latest, mark.webhookId, mark.size));
    });
    // Not waited to reach the disk (`durable` is, before the offset commit): a committed transaction
    // survives a crash of this process, which is what the mark is for; only an OS crash before the
    // flush could lose it, and then the batch goes out again under a new webhook-id (at least once).
  }

  async ping(): Promise<void> {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the dedup store is closed');
    this.keys.getKeysCount();
  }

  /** Rows currently stored, expired or not; for metrics and tests of boundedness. */
  entryCount(): { events: number; keys: number; batches: number } {
    return {
      events: this.events.getKeysCount(),
      keys: this.keys.getKeysCount(),
      batches: this.batches.getKeysCount(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeEnvironment(this.path);
  }

  private recordInTransaction(input: DedupInput, position: Buffer, now: number): DedupOutcome {
    this.recorded += 1;
    if (this.recorded % SWEEP_EVERY === 0) {
      this.sweep(this.events, rowExpiresAt, now);
      this.sweep(this.keys, keyExpiresAt, now);
      this.sweep(this.batches, rowExpiresAt, now);
      this.sweep(this.opinions, rowExpiresAt, now);
    }
    const eventKey = eventRowKey(input.org, input.eventId);
    const seenRow = this.events.get(eventKey);
    const seen = seenRow && decodeEvent(seenRow);
    if (seen && seen.expiresAt > now) {
      if (!seen.position.equals(position)) return DUPLICATE;
      const batchRow = seen.batch && this.batches.get(seen.batch);
      return { ...seen.decision, repeat: true, ...(batchRow ? { batch: decodeBatch(batchRow) } : {}) };
    }

    const keyKey = keyRowKey(input.key);
    const keyRow = this.keys.get(keyKey);
    const live = liveSources(keyRow ? decodeKey(keyRow) : [], now);
    if (input.kind === 'sighted') return this.recordSighting(input, eventKey, position, live, now);
    const { decision, sources } = decideReport(
      input,
      live,
      reportExpiresAt(input.validUntil, now, this.windowMs),
    );
    this.writeKey(keyKey, keyRow !== undefined, sources);
    this.events.putSync(
      eventKey,
      encodeEvent({ expiresAt: now + this.windowMs, position, decision: decision as DedupDecision }),
    );
    return { ...decision, repeat: false };
  }

  private recordSighting(
    input: DedupInput,
    eventKey: Buffer,
    position: Buffer,
    live: Sources,
    now: number,
  ): DedupOutcome {
    const opinionKey = keyRowKey(input.key);
    const row = this.opinions.get(opinionKey);
    const before = row && rowExpiresAt(row) > now ? decodeOpinion(row) : [];
    const { decision, opinion } = decideSighting(input, live, before, now);
    if (decision.kind === 'sighted') {
      this.opinions.putSync(opinionKey, encodeOpinion(now + this.windowMs, opinion));
    }
    this.events.putSync(eventKey, encodeEvent({ expiresAt: now + this.windowMs, position, decision }));
    return { ...decision, repeat: false };
  }

  private writeKey(key: Buffer, existed: boolean, sources: Sources): void {
    if (sources.size > 0) this.keys.putSync(key, encodeKey(sources));
    else if (existed) this.keys.removeSync(key);
  }

  private sweep(table: Table, expiresAt: (row: Buffer) => number, now: number): void {
    const from = this.sweptTo.get(table);
    // Collected before deleting: removing rows under an open cursor is not something to rely on.
    const rows = [...table.getRange({ ...(from ? { start: from } : {}), limit: SWEEP * SWEEP_EVERY + 1 })];
    // The start row was examined last time; a range that ran out wraps to the beginning next time.
    const fresh = from && rows[0]?.key.equals(from) ? rows.slice(1) : rows;
    for (const { key, value } of fresh) if (expiresAt(value) <= now) table.removeSync(key);
    if (fresh.length < SWEEP * SWEEP_EVERY) this.sweptTo.delete(table);
    else this.sweptTo.set(table, Buffer.from(fresh[fresh.length - 1]!.key));
  }
}
