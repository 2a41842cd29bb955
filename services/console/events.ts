import { randomBytes } from 'node:crypto';
import type { OrgKeys } from '../contract/keyring';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { EventCodec } from '../contract/avro/codec';
import { HEADERS } from '../contract/definitions';
import { identityOf, routeOf } from '../contract/model';
import { COMMUNITY_TLPS, type KafkaNames } from '../contract/names';
import { verifySigned } from '../contract/record-read';
import { headerText } from '../contract/headers';
import { ORG_ID_PATTERN, UUID_PATTERN } from '../contract/well-formed';
import { recordTime } from '../platform/kafka';
import type { Logger } from '../platform/logger';
import type { RateSeries } from './state';
import { addRecentEvent, type ConsoleModel, type RecentEvent } from './state';

/**
 * Follows the community and direct topics for the console: who publishes how
 * much, and the recent events' type, source, TLP and time. A record is
 * believed only when the signature verifies with the key of the org it
 * names; otherwise it is listed as unverified. The checks are the subscriber's
 * own first ones (verifySigned: v1 and batch signatures). The value and key are never
 * kept (see RecentEvent).
 */

/** What the console shows of one record: never its value or key. */
export function describeRecord(
  message: KafkaMessage,
  topic: string,
  names: KafkaNames,
  codec: EventCodec,
  orgKeys: OrgKeys,
): RecentEvent {
  const sourceOrg = shaped(headerText(message, HEADERS.sourceOrg), ORG_ID_PATTERN) ?? '(none)';
  const verdict = verifySigned({ codec, orgKeys }, message);
  if (!verdict.ok) {
    return {
      eventId: shaped(headerText(message, HEADERS.eventId), UUID_PATTERN) ?? `${topic}@${message.offset}`,
      kind: 'unreadable',
      type: null,
      category: null,
      sourceOrg,
      tlp: null,
      recipients: [],
      producedAt: recordTime(message) ?? '',
      verified: false,
    };
  }
  const { event } = verdict;
  const route = routeOf(event.payload);
  const published = event.payload.kind === 'IndicatorPublished' ? event.payload.indicator : undefined;
  return {
    eventId: event.eventId,
    kind: published ? 'published' : event.payload.kind === 'Sighting' ? 'sighted' : 'revoked',
    type: identityOf(event.payload).type,
    category: published?.category ?? null,
    sourceOrg,
    tlp: route.tlp,
    recipients: topic.startsWith(names.direct('')) ? [...route.recipients] : [],
    producedAt: event.producedAt,
    verified: true,
  };
}

/**
 * A header of a record that did not verify is its writer's word: shown only
 * when it has the shape it claims, so a 300 KB or binary header cannot fill
 * the page or the console's memory.
 */
function shaped(text: string | undefined, pattern: RegExp): string | undefined {
  return text !== undefined && pattern.test(text) ? text : undefined;
}

export class EventFollower {
  private consumer: Consumer | undefined;
  /** Events (scoped by source org) seen lately, so copies on several direct topics count once; bounded. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly orgIds: string[],
    private readonly names: KafkaNames,
    private readonly codec: EventCodec,
    private readonly orgKeys: OrgKeys,
    private readonly model: ConsoleModel,
    private readonly series: () => RateSeries,
    private readonly windowMs: number,
    private readonly logger: Logger,
  ) {}

  topics(): string[] {
    return [...COMMUNITY_TLPS.map((t) => this.names.community(t)), ...this.orgIds.map(this.names.direct)];
  }

  /**
   * Starts at what was written during the last window: a fresh group whose offsets are set by
   * timestamp before it joins, so the page has a history at once and no record is skipped between
   * the join and the first fetch.
   */
  async start(): Promise<void> {
    const groupId = `${this.names.consoleGroupPrefix()}events.${randomBytes(6).toString('hex')}`;
    const since = Date.now() - this.windowMs;
    for (const topic of this.topics()) {
      const partitions = await this.admin.fetchTopicOffsetsByTimestamp(topic, since);
      await this.admin.setOffsets({ groupId, topic, partitions });
    }
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics() });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, message }) => this.take(topic, message),
    });
  }

  private take(topic: string, message: KafkaMessage): void {
    const e = describeRecord(message, topic, this.names, this.codec, this.orgKeys);
    if (!addRecentEvent(this.model, this.seen, e)) return;
    // An unverified header names whatever its writer liked: counted together, so it cannot grow the map.
    const producer = e.verified ? e.sourceOrg : '(unverified)';
    let series = this.model.producers.get(producer);
    if (!series) {
      series = this.series();
      this.model.producers.set(producer, series);
    }
    // The record's timestamp is its writer's word: one from the future would slide the chart's window past every real count.
    const at = Number(message.timestamp);
    series.add(1, Number.isFinite(at) && at <= Date.now() ? at : Date.now());
    this.logger.debug({ eventId: e.eventId, sourceOrg: e.sourceOrg, topic }, 'console saw an event');
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
