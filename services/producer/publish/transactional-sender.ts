import { randomBytes } from 'node:crypto';
import type { Kafka, Producer, RecordMetadata, TopicMessages } from 'kafkajs';
import { createTransactionalProducer } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';

/**
 * Sends one API request's records as one Kafka transaction, so a request is
 * all or nothing for every read_committed consumer (kafkajs consumers are by
 * default): when the client gets 503 because Kafka failed mid-batch, none of
 * the batch is visible, and the retry with the same Idempotency-Key writes
 * each event exactly once. A small pool of transactional producers lets
 * requests run side by side (a producer holds one transaction at a time).
 */

export interface TransactionalSenderOptions {
  kafka: Kafka;
  /** Stable start of the transactional ids, e.g. `threatrelay.producer.facebook.` (ends with its separator). */
  idPrefix: string;
  /** Producers in the pool. Default 4. */
  size?: number;
  /** How long the broker keeps a transaction open that its producer abandoned. Default 30 s. */
  transactionTimeoutMs?: number;
  logger: Logger;
}

interface Slot {
  id: string;
  producer: Producer;
  connected: boolean;
}

export class TransactionalSender {
  private readonly slots: Slot[];
  private readonly idle: Slot[];
  private readonly waiters: ((slot: Slot) => void)[] = [];
  private closed = false;

  constructor(private readonly options: TransactionalSenderOptions) {
    // One id per process start and slot: two live processes never share one, so neither fences the other.
    const instance = randomBytes(4).toString('hex');
    this.slots = Array.from({ length: options.size ?? 4 }, (_, i) => {
      const id = `${options.idPrefix}${instance}.${i}`;
      return { id, producer: this.createProducer(id), connected: false };
    });
    this.idle = [...this.slots];
  }

  private createProducer(transactionalId: string): Producer {
    return createTransactionalProducer(
      this.options.kafka,
      transactionalId,
      this.options.transactionTimeoutMs,
    );
  }

  /** Producers in the pool: how many transactions can be in flight at once. */
  get size(): number {
    return this.slots.length;
  }

  /** Connects one producer up front, so a misconfigured broker fails the start, not the first request. */
  async connect(): Promise<void> {
    const slot = await this.acquire();
    try {
      await this.ensureConnected(slot);
    } finally {
      this.release(slot);
    }
  }

  private async ensureConnected(slot: Slot): Promise<void> {
    if (slot.connected) return;
    await slot.producer.connect();
    slot.connected = true;
  }

  private acquire(): Promise<Slot> {
    // Least recently used first: the producer that just committed is the one most likely still busy at the broker.
    const slot = this.idle.shift();
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(slot: Slot): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(slot);
    else this.idle.push(slot);
  }

  /**
   * A producer whose transaction could not be ended (the broker went away
   * mid-way) is replaced: the new one, once it initializes, makes the broker
   * abort whatever the old one left open.
   */
  private async replace(slot: Slot): Promise<void> {
    const old = slot.producer;
    slot.producer = this.createProducer(slot.id);
    slot.connected = false;
    await old.disconnect().catch(() => undefined);
  }

  /**
   * `deadline` (epoch ms) is when the caller stops waiting and tells its
   * client to retry: past it, a send still queued is not begun and a batch
   * written but not yet committed is aborted, so a 503 almost never leaves
   * records behind (only a commit already on the wire at the deadline can).
   */
  async send(topicMessages: TopicMessages[], deadline = Number.POSITIVE_INFINITY): Promise<RecordMetadata[]> {
    if (this.closed) throw new Error('the sender is closed');
    const slot = await this.acquire();
    if (Date.now() > deadline) {
      this.release(slot);
      throw new Error('the request timed out before a producer was free');
    }
    try {
      await this.ensureConnected(slot);
      const tx = await slot.producer.transaction();
      try {
        const metadata = await tx.sendBatch({ topicMessages, acks: -1 });
        if (Date.now() > deadline) throw new Error('the request timed out before its transaction committed');
        await tx.commit();
        return metadata;
      } catch (err) {
        // If even the abort fails, the replacement below fences the transaction.
        await tx.abort().catch(() => undefined);
        throw err;
      }
    } catch (err) {
      // Whatever failed (connect, begin, send, commit or abort), kafkajs's transaction
      // state may be stuck; a fresh producer is the one state we can trust.
      this.options.logger.warn({ err, transactionalId: slot.id }, 'transaction failed; replacing producer');
      await this.replace(slot);
      throw err;
    } finally {
      this.release(slot);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.producer.disconnect().catch(() => undefined)));
  }
}
