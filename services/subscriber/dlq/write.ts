import type { KafkaMessage, Producer } from 'kafkajs';
import { HEADERS } from '../../contract/definitions';
import type { ErrorCode } from '../../contract/errors';
import type { Logger } from '../../platform/logger';
import type { SubscriberMetrics } from '../metrics';

export interface DeadLetter {
  message: KafkaMessage;
  sourceTopic: string;
  sourcePartition: number;
  code: ErrorCode;
  reason: string;
}

/**
 * Writes records that cannot be delivered to the subscription's DLQ topic,
 * byte for byte with their original key, value and headers, plus why and
 * where they came from. It resolves only once Kafka acknowledged, so the
 * consumer may then commit past the records without losing them.
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
    await this.producer.send({
      topic: this.dlqTopic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.message.key,
        value: l.message.value,
        headers: {
          ...l.message.headers,
          [HEADERS.dlqCode]: l.code,
          [HEADERS.dlqReason]: l.reason,
          [HEADERS.dlqTopic]: l.sourceTopic,
          [HEADERS.dlqPartition]: String(l.sourcePartition),
          [HEADERS.dlqOffset]: l.message.offset,
          [HEADERS.dlqAt]: new Date().toISOString(),
        },
      })),
    });
    for (const l of letters) {
      this.metrics.deadLettered.inc({ subscription: this.subscriptionId, reason: l.code });
      this.log.warn(
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
}
