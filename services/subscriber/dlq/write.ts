import type { KafkaMessage, Producer } from 'kafkajs';
import { HEADERS } from '../../contract/definitions';
import type { ErrorCode } from '../../contract/errors';

/**
 * Writes a record that cannot be delivered to the subscription's DLQ topic,
 * byte for byte with its original key, value and headers, plus why and where
 * it came from. It resolves only once Kafka acknowledged, so the consumer may
 * then commit past the record without losing it.
 */
export interface DeadLetter {
  message: KafkaMessage;
  sourceTopic: string;
  sourcePartition: number;
  code: ErrorCode;
  reason: string;
}

export class DeadLetterWriter {
  constructor(
    private readonly producer: Producer,
    private readonly dlqTopic: string,
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
  }
}
