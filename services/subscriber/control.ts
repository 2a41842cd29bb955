import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Logger } from '../platform/logger';

/**
 * Subscription switches live in Kafka, in a compacted control topic keyed by
 * subscription id: Kafka stays the only system of record, every instance of
 * a scaled subscriber sees the same switch, and a restart does not forget
 * that an endpoint answered 410 Gone. `threatrelay subscription enable`
 * writes the switch back on.
 */
export interface SubscriptionSwitch {
  subscription: string;
  disabled: boolean;
  reason: string;
  at: string;
}

export async function writeSwitch(producer: Producer, topic: string, sw: SubscriptionSwitch): Promise<void> {
  await producer.send({ topic, acks: -1, messages: [{ key: sw.subscription, value: JSON.stringify(sw) }] });
}

/** Reads every switch from the beginning, then follows new ones. */
export class ControlListener {
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly topic: string,
    private readonly groupPrefix: string,
    private readonly onSwitch: (sw: SubscriptionSwitch) => void,
    private readonly logger: Logger,
  ) {}

  /** Resolves once every switch written before the start has been applied. */
  async start(): Promise<void> {
    const [end] = await this.endOffsets();
    const target = BigInt(end?.high ?? '0');
    let resolveCaughtUp: () => void = () => undefined;
    const caughtUp = new Promise<void>((resolve) => (resolveCaughtUp = resolve));
    if (target === 0n) resolveCaughtUp();
    // A fresh group per process: every instance must read every switch, not share them.
    const consumer = this.kafka.consumer({
      groupId: `${this.groupPrefix}${randomBytes(6).toString('hex')}`,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          try {
            if (m.value) this.onSwitch(JSON.parse(m.value.toString()) as SubscriptionSwitch);
          } catch (err) {
            this.logger.error({ err, offset: m.offset }, 'unreadable control record ignored');
          }
        }
        // A fetch is capped in size: caught up only once the last record read is the last one written.
        if (BigInt(batch.lastOffset()) + 1n >= target) resolveCaughtUp();
      },
    });
    await caughtUp;
  }

  /** A freshly provisioned topic can be unknown to the broker's metadata for a moment; retry within a bound. */
  private async endOffsets(): Promise<{ high: string }[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        return await this.admin.fetchTopicOffsets(this.topic);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
