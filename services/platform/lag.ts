import type { PartitionOffset } from 'kafkajs';

/**
 * What "behind" means, once, for every reader of the bus: the subscriber's
 * and the TAXII feed's /metrics, the console and `threatrelay subscription
 * status`. Pure: `lag-read.ts` asks the broker, this file decides.
 *
 * Per partition, a group is behind by the records it has not processed yet,
 * counted from where it resumes (its committed offset, or the partition's
 * first offset when it committed none: the bus's groups read from the
 * beginning) up to the last stable offset, the furthest a read_committed
 * reader can go. Transaction markers and records of aborted transactions
 * take offsets but are no records to process, so they do not count: a group
 * that committed past its last record reads 0 even with a commit marker after
 * it. Records past the last stable offset (an open transaction) are not
 * behind; a transaction kept open too long is reported as hanging instead.
 *
 * Progress is judged over time, as Burrow does: a partition is stalled when
 * records wait and the group's position has not moved for `stalledAfterMs`.
 */

/** One partition as the broker and the group's commit show it at one moment. */
export interface PartitionReading {
  topic: string;
  partition: number;
  /** The group's committed offset; undefined when it committed none. */
  committed: string | undefined;
  /** The partition's first offset: where a group without a commit starts. */
  low: string;
  /** The last stable offset: a read_committed reader reads no further. */
  lastStable: string;
  /** The high watermark: the end, open transactions included. */
  high: string;
  /**
   * The records read from the group's position: `counted` of them to process
   * (no markers, nothing aborted) before offset `readTo`; offsets from `readTo`
   * to the last stable offset were not read and count one record each.
   */
  waiting: { counted: number; readTo: string; oldestAt: number | undefined };
  /** When the commit's metadata names it (`commitMetadata`): the last webhook batch accepted. */
  lastDeliveryAt?: string | undefined;
}

/** An open transaction held longer than any of the bus's producers keeps one. */
export interface HangingTransaction {
  /** Its first offset: the last stable offset, where read_committed readers stop. */
  startOffset: string;
  /** When this reader first saw the last stable offset held there. */
  since: string;
  producerId?: string;
  /** The transactional id, or why it could not be found. */
  transactionalId?: string;
  unknownBecause?: string;
}

/** One partition's progress: the same fields in /metrics, on the console and in the CLI. */
export interface PartitionStatus {
  topic: string;
  partition: number;
  /** Where the group resumes. */
  position: string;
  /** The last stable offset. */
  end: string;
  high: string;
  /** Records not yet processed (see the file's comment). */
  behind: number;
  /** Age of the oldest record waiting, by its timestamp; 0 when none waits. */
  oldestWaitingSeconds: number;
  /** Since when records wait without the position moving, once that lasted `stalledAfterMs`. */
  stalledSince: string | undefined;
  hanging: HangingTransaction | undefined;
  /** When this reader last saw the committed offset move. */
  lastCommitAt: string | undefined;
  lastDeliveryAt: string | undefined;
}

export interface WatchSettings {
  stalledAfterMs: number;
  /** An open transaction at the same last stable offset this long is hanging. */
  hangingAfterMs: number;
}

/** Where a group resumes on a partition: its commit, or the first offset still held. */
export function positionOf(r: Pick<PartitionReading, 'committed' | 'low'>): bigint {
  const low = BigInt(r.low);
  if (r.committed === undefined) return low;
  const committed = BigInt(r.committed);
  // A commit below the first offset still held points at records retention deleted: the group starts at `low`.
  return committed < low ? low : committed;
}

/** Records the group has not processed on this partition. */
export function behindOf(r: PartitionReading): number {
  const position = positionOf(r);
  const end = BigInt(r.lastStable);
  if (position >= end) return 0;
  const readTo = BigInt(r.waiting.readTo);
  const unread = end - (readTo > position ? readTo : position);
  return r.waiting.counted + Number(unread > 0n ? unread : 0n);
}

interface Seen {
  position: bigint;
  committed: string | undefined;
  waitingSince: number | undefined;
  lastCommitAt: number | undefined;
  open: { lastStable: string; since: number } | undefined;
}

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** Turns successive readings of a group into statuses; keeps what it needs of the last one. */
export class ProgressWatch {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly settings: WatchSettings) {}

  update(readings: readonly PartitionReading[], now: number): PartitionStatus[] {
    return readings.map((r) => this.updateOne(r, now));
  }

  private updateOne(r: PartitionReading, now: number): PartitionStatus {
    const key = `${r.topic}\u0000${r.partition}`;
    const before = this.seen.get(key);
    const position = positionOf(r);
    const behind = behindOf(r);
    const moved = before !== undefined && before.position !== position;
    const committedMoved = before !== undefined && before.committed !== r.committed;
    const seen: Seen = {
      position,
      committed: r.committed,
      // Waiting starts when records wait and restarts whenever the position moves (progress is made).
      waitingSince: behind === 0 ? undefined : moved || !before?.waitingSince ? now : before.waitingSince,
      lastCommitAt: committedMoved ? now : before?.lastCommitAt,
      open: openSince(before?.open, r, now),
    };
    this.seen.set(key, seen);
    const stalled =
      seen.waitingSince !== undefined && now - seen.waitingSince >= this.settings.stalledAfterMs;
    const hanging =
      seen.open !== undefined && now - seen.open.since >= this.settings.hangingAfterMs
        ? { startOffset: seen.open.lastStable, since: iso(seen.open.since)! }
        : undefined;
    return {
      topic: r.topic,
      partition: r.partition,
      position: position.toString(),
      end: r.lastStable,
      high: r.high,
      behind,
      oldestWaitingSeconds: oldestWaitingSeconds(r, behind, now),
      stalledSince: stalled ? iso(seen.waitingSince) : undefined,
      hanging,
      lastCommitAt: iso(seen.lastCommitAt),
      lastDeliveryAt: r.lastDeliveryAt,
    };
  }
}

function openSince(
  before: Seen['open'],
  r: PartitionReading,
  now: number,
): { lastStable: string; since: number } | undefined {
  if (BigInt(r.lastStable) >= BigInt(r.high)) return undefined;
  return before?.lastStable === r.lastStable ? before : { lastStable: r.lastStable, since: now };
}

/**
 * The oldest waiting record's age by its timestamp, which its writer set: never below 0 (a clock
 * ahead), and 0 when nothing waits. A stall is judged on offsets alone, never on this.
 */
function oldestWaitingSeconds(r: PartitionReading, behind: number, now: number): number {
  if (behind === 0 || r.waiting.oldestAt === undefined) return 0;
  return Math.max(0, Math.round((now - r.waiting.oldestAt) / 1000));
}

/** One subscription's (or feed's) partitions in one line: the console's row, the CLI's total. */
export interface ProgressSummary {
  behind: number;
  oldestWaitingSeconds: number;
  /** The earliest stall among its partitions. */
  stalledSince: string | undefined;
  stalledPartitions: number;
  hangingPartitions: number;
  lastCommitAt: string | undefined;
  lastDeliveryAt: string | undefined;
}

export function summarize(statuses: readonly PartitionStatus[]): ProgressSummary {
  const earliest = (xs: (string | undefined)[]) => xs.filter((x) => x !== undefined).sort()[0];
  const latest = (xs: (string | undefined)[]) =>
    xs
      .filter((x) => x !== undefined)
      .sort()
      .at(-1);
  return {
    behind: statuses.reduce((n, s) => n + s.behind, 0),
    oldestWaitingSeconds: statuses.reduce((n, s) => Math.max(n, s.oldestWaitingSeconds), 0),
    stalledSince: earliest(statuses.map((s) => s.stalledSince)),
    stalledPartitions: statuses.filter((s) => s.stalledSince !== undefined).length,
    hangingPartitions: statuses.filter((s) => s.hanging !== undefined).length,
    lastCommitAt: latest(statuses.map((s) => s.lastCommitAt)),
    lastDeliveryAt: latest(statuses.map((s) => s.lastDeliveryAt)),
  };
}

/**
 * An offset to commit with its metadata: kafkajs's types leave `metadata` out, though its OffsetCommit
 * and TxnOffsetCommit requests write it (test/integration/lag.test.ts reads it back).
 */
export function offsetWithMetadata(
  partition: number,
  offset: string,
  metadata: string | null,
): PartitionOffset {
  return { partition, offset, metadata } as PartitionOffset;
}

/** Kafka's default `offset.metadata.max.bytes`: a commit with more metadata is refused. */
const MAX_METADATA = 4096;

/** What a subscriber writes into each offset commit: when it last delivered on that partition. */
export function commitMetadata(lastDeliveryAt: number | undefined): string | null {
  return lastDeliveryAt === undefined ? null : JSON.stringify({ deliveredAt: iso(lastDeliveryAt) });
}

/** The delivery time a commit's metadata holds; undefined for anything else (an older member, a stranger's text). */
export function deliveredAtOf(metadata: string | null | undefined): string | undefined {
  if (!metadata || metadata.length > MAX_METADATA) return undefined;
  try {
    const value = (JSON.parse(metadata) as { deliveredAt?: unknown } | null)?.deliveredAt;
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return undefined;
    return new Date(value).toISOString();
  } catch {
    return undefined;
  }
}
