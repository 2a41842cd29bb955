import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { HEADERS } from '../../contract/definitions';
import type { ErrorCode } from '../../contract/errors';
import type { Logger } from '../../platform/logger';
import { createTransactionalProducer, writableHeaders } from '../../platform/kafka';
import { offsetWithMetadata } from '../../platform/lag';
import type { SubscriberMetrics } from '../metrics';

export interface DeadLetter {
  message: KafkaMessage;
  sourceTopic: string;
  sourcePartition: number;
  code: ErrorCode;
  reason: string;
}

/** The consumer offset a batch of dead letters moves its source partition to. */
export interface SourceCommit {
  groupId: string;
  topic: string;
  partition: number;
  /** The next offset to read: one past the last record of the batch. */
  offset: string;
  /** Kept with the offset (platform/lag.ts `commitMetadata`: the partition's last delivery). */
  metadata?: string | null;
}

/** The DLQ record of a dead letter: the original key, value and headers, byte for byte, plus why and where from. */
function dlqMessage(l: DeadLetter): Message {
  const { headers, nulls } = writableHeaders(l.message);
  return {
    key: l.message.key,
    value: l.message.value,
    headers: {
      ...headers,
      ...(nulls.length > 0 ? { [HEADERS.dlqNullHeaders]: nulls.join(',') } : {}),
      [HEADERS.dlqCode]: l.code,
      [HEADERS.dlqReason]: l.reason,
      [HEADERS.dlqTopic]: l.sourceTopic,
      [HEADERS.dlqPartition]: String(l.sourcePartition),
      [HEADERS.dlqOffset]: l.message.offset,
      [HEADERS.dlqAt]: new Date().toISOString(),
    },
  };
}

function reportWritten(
  letters: DeadLetter[],
  subscriptionId: string,
  metrics: SubscriberMetrics,
  log: Logger,
): void {
  for (const l of letters) {
    metrics.deadLettered.inc({ subscription: subscriptionId, reason: l.code });
    log.warn(
      {
        topic: l.sourceTopic,
        partition: l.sourcePartition,
        offset: l.message.offset,
        code: l.code,
        reason: l.reason,
      },
      'dead-lettered',
    );
  }
}

/**
 * Writes records that cannot be delivered to the subscription's DLQ topic,
 * outside any consumer group: what `dlq replay` fails to deliver again goes
 * back here. It resolves only once Kafka acknowledged.
 */
export class DeadLetterWriter {
  constructor(
    private readonly producer: Producer,
    private readonly dlqTopic: string,
    private readonly subscriptionId: string,
    private readonly metrics: SubscriberMetrics,
    private readonly log: Logger,
  ) {}

  async write(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({ topic: this.dlqTopic, acks: -1, messages: letters.map(dlqMessage) });
    reportWritten(letters, this.subscriptionId, this.metrics, this.log);
  }
}

/** What the consumer needs of a DLQ writer: dead letters and the source offsets, together or not at all. */
export interface CommittingDeadLetters {
  writeAndCommit(
    letters: DeadLetter[],
    commit: SourceCommit,
    ownershipCheck?: () => Promise<void>,
  ): Promise<void>;
}

export interface TransactionalDeadLetterWriterOptions {
  kafka: Kafka;
  /** Start of the transactional id, e.g. `threatrelay.subscriber.dhs.` (ACLs grant the org this prefix). */
  idPrefix: string;
  dlqTopic: string;
  subscriptionId: string;
  metrics: SubscriberMetrics;
  log: Logger;
  /** How long the broker keeps a transaction open that its producer abandoned. Default 30 s. */
  transactionTimeoutMs?: number;
}

/**
 * The dead letters of a consumer group, written in ONE Kafka transaction
 * with the source partition's offset (`sendOffsets`): the DLQ copies become
 * visible to read_committed readers (kafkajs's default, `threatrelay dlq`,
 * the console, replay) exactly when the group's offset moves past the
 * records. A transaction that does not commit (the broker went away, the
 * member lost its partitions) leaves neither: the records are read again and
 * delivered or dead-lettered then, so an event is never both delivered and
 * dead-lettered, nor dead-lettered twice by a re-read.
 *
 * One transactional id per subscription and process start
 * (`<idPrefix><subscription>.<random>`): two members of a group never share
 * one, so neither fences the other. A producer whose transaction failed is
 * replaced; the new one, once initialized, makes the broker abort whatever
 * the old one left open (otherwise the broker does after the timeout).
 */
export class TransactionalDeadLetterWriter implements CommittingDeadLetters {
  readonly transactionalId: string;
  private producer: Producer;
  private connecting: Promise<void> | undefined;
  /** The last transaction queued: a producer holds one transaction at a time, partitions take turns. */
  private turn: Promise<void> = Promise.resolve();

  constructor(private readonly options: TransactionalDeadLetterWriterOptions) {
    this.transactionalId = `${options.idPrefix}${options.subscriptionId}.${randomBytes(4).toString('hex')}`;
    this.producer = this.createProducer();
  }

  private createProducer(): Producer {
    return createTransactionalProducer(
      this.options.kafka,
      this.transactionalId,
      this.options.transactionTimeoutMs,
    );
  }

  /** Connects and initializes the transactional id (so a missing ACL fails the start, not the first letter). */
  connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  /**
   * Writes `letters` to the DLQ and moves the group's offset of their source
   * partition to `commit.offset`, atomically. `ownershipCheck` runs inside
   * the transaction, after the letters are sent and before the offsets are
   * added (the consumer checks there that it still owns the partition); if
   * it throws, the transaction is aborted. Not after the offsets: when the
   * check commits an offset itself, the broker keeps whichever of the two
   * offset commits it appended last, and that must be the transaction's.
   */
  writeAndCommit(
    letters: DeadLetter[],
    commit: SourceCommit,
    ownershipCheck?: () => Promise<void>,
  ): Promise<void> {
    // The consumer works on several partitions at once; their transactions go one after another.
    const mine = this.turn.then(() => this.transact(letters, commit, ownershipCheck));
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  private async transact(
    letters: DeadLetter[],
    commit: SourceCommit,
    ownershipCheck?: () => Promise<void>,
  ): Promise<void> {
    const { dlqTopic, subscriptionId, metrics, log } = this.options;
    await this.connect();
    const producer = this.producer;
    try {
      const tx = await producer.transaction();
      try {
        if (letters.length > 0) {
          await tx.send({ topic: dlqTopic, acks: -1, messages: letters.map(dlqMessage) });
        }
        await ownershipCheck?.();
        await tx.sendOffsets({
          consumerGroupId: commit.groupId,
          topics: [
            {
              topic: commit.topic,
              partitions: [offsetWithMetadata(commit.partition, commit.offset, commit.metadata ?? null)],
            },
          ],
        });
        await tx.commit();
      } catch (err) {
        await tx.abort().catch(() => undefined);
        throw err;
      }
    } catch (err) {
      // Whatever failed (begin, send, offsets, the check, commit or abort), kafkajs's transaction state
      // may be stuck: a fresh producer with the same id is the one state to trust, and initializing it
      // aborts at the broker anything the old one left open.
      log.warn(
        { err, transactionalId: this.transactionalId, letters: letters.length },
        'dead letters not written: transaction aborted; the records will be read again',
      );
      if (this.producer === producer) {
        this.producer = this.createProducer();
        this.connecting = undefined;
        void producer.disconnect().catch(() => undefined);
        void this.connect().catch(() => undefined);
      }
      throw err;
    }
    reportWritten(letters, subscriptionId, metrics, log);
  }

  /** Waits for the transaction under way and a reconnect after a failed one, then disconnects. */
  async close(): Promise<void> {
    await this.turn;
    await this.connecting?.catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
  }
}
