import type { Batch, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { offsetWithMetadata } from '../../platform/lag';
import type { BatchMark } from '../dedup';
import type { BatchOutcome } from '../delivery/batch';
import type { CommittingDeadLetters, DeadLetter } from '../dlq/write';
import type { Classified, Deliverable } from './classify';

/** Within a partition batch, the group's offset is written at most this often (and when the batch ends). */
const COMMIT_EVERY_MS = 1000;
/** Records whose dedup calls are issued together. */
const CLASSIFY_CHUNK = 500;
/** Consecutive dead records written in one dead-letter transaction at most. */
const DEAD_LETTERS_AT_ONCE = 100;

export interface Position {
  topic: string;
  partition: number;
}

/** As much of kafkajs's batch payload as a walk uses. */
export type WalkPayload = Pick<
  EachBatchPayload,
  'resolveOffset' | 'heartbeat' | 'commitOffsetsIfNecessary' | 'isRunning' | 'isStale'
> & { batch: Pick<Batch, 'topic' | 'partition' | 'messages'> };

/** What a walk calls, each below it: the record checks (with dedup), delivery and the dead letters. */
export interface WalkDeps {
  groupId: string;
  /** Records per webhook batch. */
  batchSize: number;
  /** What each record of a chunk means, in offset order; undefined: stopping mid-outage. */
  classifyChunk(
    chunk: KafkaMessage[],
    position: Position,
    heartbeat: () => Promise<void>,
    carryOn: () => boolean,
  ): Promise<Classified[] | undefined>;
  /** One webhook batch to the endpoint, retried as its policy says. */
  deliver(items: Deliverable[], position: Position, heartbeat: () => Promise<void>): Promise<BatchOutcome>;
  /** Writes dead letters in one transaction with the source offsets. */
  deadLetters: CommittingDeadLetters;
  /** Resolves once the dedup store's state survives a crash of the machine; awaited before each commit. */
  dedupDurable?: (() => Promise<void>) | undefined;
  /**
   * A webhook batch went out (or was given up): seconds since the walk started; `accepted` when the
   * endpoint took it (the partition's last delivery, platform/lag.ts).
   */
  onDelivered(position: Position, seconds: number, accepted: boolean): void;
  /** Kept with each offset commit of the partition (platform/lag.ts `commitMetadata`: its last delivery). */
  commitMetadata(position: Position): string | null;
  /** True once the subscription is disabled: the walk stops where it is. */
  disabled(): boolean;
}

/**
 * The walk through one fetched partition batch: records are classified a
 * chunk at a time, gathered into webhook batches in offset order, and the
 * group's offset moves past a record only once it was delivered, filtered
 * out, deduplicated or dead-lettered. A dead record first sends what came
 * before it; consecutive dead records are written in one transaction with
 * the commit past them. A record read again after it was handed to a webhook
 * batch goes out in exactly that batch again (same members, same webhook-id).
 */
export class BatchWalk {
  private pending: Classified[] = [];
  private pendingDeliveries = 0;
  /** Set while `pending` is a batch read again after a crash, being regrouped as it was first sent. */
  private regrouping: BatchMark | undefined;
  /** Consecutive records to dead-letter, written with the commit past them in one transaction. */
  private dead: DeadLetter[] = [];
  private committedAt = Date.now();
  private uncommitted: string | undefined;
  private readonly started = Date.now();
  private readonly position: Position;

  constructor(
    private readonly deps: WalkDeps,
    private readonly payload: WalkPayload,
  ) {
    this.position = { topic: payload.batch.topic, partition: payload.batch.partition };
  }

  /** Walks the batch; whatever it delivered is committed, also when it stops early. */
  async run(): Promise<void> {
    await this.walk();
    if (this.uncommitted !== undefined) await this.commit(this.uncommitted, true);
  }

  private carryOn(): boolean {
    return this.payload.isRunning() && !this.payload.isStale() && !this.deps.disabled();
  }

  /**
   * Records are classified a chunk at a time: the dedup calls of a chunk are issued in offset order
   * without waiting for each other, so the store applies them in order, in few write transactions.
   * The next chunk is classified while this one's webhook batches are out: the checks run while the
   * POSTs wait on the endpoint. A chunk classified but not walked (the walk stopped) is read again and
   * answered by the store as the repeat it is. It returns early when delivery halts (stopping, 410)
   * or a dedup outage outlasts the consumer.
   */
  private async walk(): Promise<void> {
    const messages = this.payload.batch.messages;
    const chunkSize = Math.max(this.deps.batchSize, CLASSIFY_CHUNK);
    let walking = true;
    const chunkAt = (i: number): Promise<Classified[] | undefined> | undefined => {
      const chunk = messages.slice(i, i + chunkSize);
      if (chunk.length === 0 || !this.carryOn()) return undefined;
      const classified = this.deps.classifyChunk(
        chunk,
        this.position,
        this.payload.heartbeat,
        () => walking && this.carryOn(),
      );
      classified.catch(() => undefined); // awaited below, or at the end of the walk
      return classified;
    };
    let next = chunkAt(0);
    try {
      chunks: for (let i = 0; next; i += chunkSize) {
        const classified = await next;
        next = undefined;
        // Stopping mid-outage: nothing of this chunk is committed; it is read again on the next start.
        if (!classified) return;
        next = chunkAt(i + chunkSize);
        for (const c of classified) {
          if (!this.carryOn()) break chunks;
          if (!(await this.take(c))) return;
        }
      }
      if (this.deps.disabled()) return;
      await this.flushDead();
      await this.flush();
    } finally {
      // A chunk classified ahead is not left running past the batch (its dedup calls against a store
      // that may be closing): it stops waiting out an outage and its calls in flight end.
      walking = false;
      await next?.catch(() => undefined);
    }
  }

  /** One record's place in the walk: the webhook batch it joins, or a dead letter. False: stop the walk. */
  private async take(c: Classified): Promise<boolean> {
    if (c.kind === 'dead') {
      // Order matters: what came before is delivered before we move past this record.
      if (!(await this.flush())) return false;
      this.dead.push({ message: c.message, ...this.source(), code: c.code, reason: c.reason });
      if (this.dead.length >= DEAD_LETTERS_AT_ONCE) await this.flushDead();
      return true;
    }
    await this.flushDead();
    if (c.kind === 'deliver') {
      // A record already handed to a batch goes out in exactly that batch again; anything else closes
      // the batch being regrouped, whole or not.
      const sameBatch = c.batch !== undefined && c.batch.webhookId === this.regrouping?.webhookId;
      if (!sameBatch && (this.regrouping !== undefined || c.batch !== undefined) && !(await this.flush()))
        return false;
      if (c.batch && !sameBatch) this.regrouping = c.batch;
    }
    this.pending.push(c);
    if (c.kind === 'deliver') this.pendingDeliveries += 1;
    const full = this.pendingDeliveries >= (this.regrouping?.size ?? this.deps.batchSize);
    return !full || this.flush();
  }

  /** Sends the webhook batch gathered so far and moves past it. False: delivery halted. */
  private async flush(): Promise<boolean> {
    const pending = this.pending;
    if (pending.length === 0) return true;
    const deliverable = pending.filter((c): c is Deliverable => c.kind === 'deliver');
    const last = pending[pending.length - 1]!.message.offset;
    const outcome =
      deliverable.length > 0
        ? await this.deps.deliver(deliverable, this.position, () => this.beat())
        : undefined;
    if (outcome?.kind === 'halted') return false;
    if (outcome) {
      this.deps.onDelivered(this.position, (Date.now() - this.started) / 1000, outcome.kind === 'delivered');
    }
    if (outcome?.kind === 'dead-lettered') {
      await this.deadLetterAndCommit(outcome.letters, pending[0]!.message.offset, last);
    } else {
      await this.commit(last);
    }
    this.pending = [];
    this.pendingDeliveries = 0;
    this.regrouping = undefined;
    await this.payload.heartbeat();
    return true;
  }

  private async flushDead(): Promise<void> {
    const run = this.dead;
    if (run.length === 0) return;
    this.dead = [];
    await this.deadLetterAndCommit(run, run[0]!.message.offset, run[run.length - 1]!.message.offset);
  }

  /** While a delivery waits to retry, what earlier batches delivered is committed first. */
  private async beat(): Promise<void> {
    if (this.uncommitted !== undefined) await this.commit(this.uncommitted, true);
    await this.payload.heartbeat();
  }

  /**
   * Moves past `offset`. The group's offset is written at most every COMMIT_EVERY_MS within a batch
   * and when the batch ends (`force`): a crash in between re-reads a little more, which the dedup
   * store answers as repeats of the batches already sent (same webhook-ids), not as new deliveries.
   */
  private async commit(offset: string, force = false): Promise<void> {
    this.payload.resolveOffset(offset);
    this.uncommitted = offset;
    if (!force && Date.now() - this.committedAt < COMMIT_EVERY_MS) return;
    // What the dedup store decided for these records is on disk before the group moves past them
    // (one flush per commit, not one per record).
    await this.deps.dedupDurable?.();
    await this.payload.commitOffsetsIfNecessary({
      topics: [
        {
          topic: this.position.topic,
          partitions: [offsetWithMetadata(this.position.partition, after(offset), this.metadata())],
        },
      ],
    });
    this.committedAt = Date.now();
    this.uncommitted = undefined;
  }

  /**
   * Dead letters for the records from `from` to `last` (offsets), and the commit past `last`, in one
   * transaction. Inside it, before the transaction adds its offsets, the group's offset is committed
   * again where it stands (`from`): the broker checks that commit against the group's generation,
   * which the transaction's own offset commit (kafkajs sends TxnOffsetCommit v0/v1, without it) does
   * not. So a member that lost the partition (fenced, or a rebalance went on without it), whose
   * successor may be delivering these very records, aborts instead of dead-lettering them too. If
   * anything fails, nothing of it is visible: the error ends the batch, and the records are read again.
   */
  private async deadLetterAndCommit(letters: DeadLetter[], from: string, last: string): Promise<void> {
    const { topic, partition } = this.position;
    await this.deps.dedupDurable?.();
    await this.deps.deadLetters.writeAndCommit(
      letters,
      { groupId: this.deps.groupId, topic, partition, offset: after(last), metadata: this.metadata() },
      async () => {
        await this.payload.commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [offsetWithMetadata(partition, from, this.metadata())] }],
        });
      },
    );
    this.payload.resolveOffset(last);
    this.committedAt = Date.now();
    this.uncommitted = undefined;
  }

  private metadata(): string | null {
    return this.deps.commitMetadata(this.position);
  }

  private source(): { sourceTopic: string; sourcePartition: number } {
    return { sourceTopic: this.position.topic, sourcePartition: this.position.partition };
  }
}

/** The offset a group resumes from after `offset`. */
function after(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}
