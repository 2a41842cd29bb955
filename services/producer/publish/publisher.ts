import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { Partitioners, type Admin, type Message, type PartitionMetadata } from 'kafkajs';
import { CANONICALIZATION_VERSION, canonicalize, indicatorKey } from '../../contract/canonical';
import type { EventCodec } from '../../contract/avro/codec';
import { HEADERS } from '../../contract/definitions';
import { uuidV5 } from '../../contract/ids';
import { ThreatRelayError, isThreatRelayError, type ErrorDetail } from '../../contract/errors';
import type { IndicatorInput, RevocationInput } from '../../contract/indicator';
import { withTimeout } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';
import type { Indicator, IndicatorRevoked, ThreatEvent, Tlp } from '../../contract/model';
import { signValue } from '../../contract/signing';
import type { TopicNames } from '../../contract/names';
import type { TransactionalSender } from './transactional-sender';

/**
 * Turns validated API input into signed, Avro-encoded Kafka records and
 * publishes them. A request's records are acknowledged by Kafka (acks=-1)
 * before anything is confirmed to the client; when Kafka cannot acknowledge
 * within the bound, the client gets TR_KAFKA_UNAVAILABLE and retries with
 * the same Idempotency-Key, which reproduces the same eventIds.
 */

export interface PublishContext {
  org: string;
  submitter: string;
  /** The client's Idempotency-Key header, when given. */
  idempotencyKey: string | undefined;
}

export interface RecordLocation {
  topic: string;
  partition: number;
  offset: string;
}

export interface Receipt {
  index: number;
  eventId: string;
  key: string;
  /** One per topic the record went to (one per recipient for amber+strict and red). */
  records: RecordLocation[];
}

export interface PublisherDeps {
  sender: TransactionalSender;
  admin: Admin;
  codec: EventCodec;
  signingKey: KeyObject;
  topics: TopicNames;
  logger: Logger;
  produceTimeoutMs: number;
  /** Observes each send's duration and outcome. */
  observeSend?: (seconds: number, outcome: 'ok' | 'error') => void;
}

/** The bus's own UUIDv5 namespace for eventIds. */
const EVENT_ID_NAMESPACE = Buffer.from('6f1d2c4e8a9b4c7d9e0f1a2b3c4d5e6f', 'hex');

/**
 * The eventId of item `index` of a request sent with an Idempotency-Key. The
 * item's content is part of the name: a retry of the same request gets the
 * same eventIds, while a key reused for other content gets new ones, so
 * subscribers never drop new indicators as duplicates of old ones.
 */
export function deterministicEventId(
  org: string,
  idempotencyKey: string,
  index: number,
  content: unknown,
): string {
  const contentHash = createHash('sha256').update(JSON.stringify(content)).digest('hex');
  return uuidV5(EVENT_ID_NAMESPACE, `${org}\n${idempotencyKey}\n${index}\n${contentHash}`);
}

/** Publications and revocations derive from separate name spaces, so one key may serve both routes. */
function eventIdFor(
  ctx: PublishContext,
  index: number,
  kind: 'publish' | 'revoke',
  content: unknown,
): string {
  if (ctx.idempotencyKey === undefined) return randomUUID();
  const scoped = kind === 'publish' ? ctx.idempotencyKey : `revoke\n${ctx.idempotencyKey}`;
  return deterministicEventId(ctx.org, scoped, index, content);
}

function isoOrNull(value: string | undefined): string | null {
  return value === undefined ? null : new Date(value).toISOString();
}

/**
 * Canonicalizes every input and builds its event. All or nothing: every
 * invalid value is reported (path `<index>.value`), and none is built.
 */
export function buildPublishedEvents(
  inputs: IndicatorInput[],
  ctx: PublishContext,
  batch: boolean,
): ThreatEvent[] {
  const problems: ErrorDetail[] = [];
  const now = new Date().toISOString();
  const events = inputs.map((input, index): ThreatEvent | undefined => {
    let value: string;
    try {
      value = canonicalize(input.type, input.value, input.platform ?? null);
    } catch (err) {
      if (!isThreatRelayError(err)) throw err;
      const at = batch ? `${index}.` : '';
      const details = err.details.length > 0 ? err.details : [{ path: 'value', message: err.message }];
      problems.push(...details.map((d) => ({ path: `${at}${d.path}`, message: d.message })));
      return undefined;
    }
    const indicator: Indicator = {
      type: input.type,
      value,
      platform: input.platform ?? null,
      category: input.category,
      tlp: input.tlp,
      recipients: [...new Set(input.recipients ?? [])],
      confidence: input.confidence,
      severity: input.severity,
      validFrom: isoOrNull(input.validFrom) ?? now,
      validUntil: isoOrNull(input.validUntil),
      threatActor: input.threatActor ?? null,
      campaign: input.campaign ?? null,
      tags: input.tags,
      description: input.description ?? null,
      references: input.references,
      firstSeen: isoOrNull(input.firstSeen),
    };
    return {
      eventId: eventIdFor(ctx, index, 'publish', input),
      schemaVersion: 0,
      producedAt: now,
      source: { org: ctx.org, submitter: ctx.submitter },
      canonicalizationVersion: CANONICALIZATION_VERSION,
      payload: { kind: 'IndicatorPublished', key: indicatorKey(input.type, value), indicator },
    };
  });
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_INVALID_VALUE', 'one or more values are not valid for their type', {
      details: problems,
    });
  }
  return events as ThreatEvent[];
}

/** Builds revocation events; a value given by type + value is canonicalized to find its key. */
export function buildRevokedEvents(
  inputs: RevocationInput[],
  ctx: PublishContext,
  batch: boolean,
): ThreatEvent[] {
  const problems: ErrorDetail[] = [];
  const now = new Date().toISOString();
  const events = inputs.map((input, index): ThreatEvent | undefined => {
    let key = input.key;
    let value: string | null = null;
    if (input.type !== undefined && input.value !== undefined) {
      try {
        value = canonicalize(input.type, input.value, input.platform ?? null);
      } catch (err) {
        if (!isThreatRelayError(err)) throw err;
        const at = batch ? `${index}.` : '';
        problems.push(...err.details.map((d) => ({ path: `${at}${d.path}`, message: d.message })));
        return undefined;
      }
      key = indicatorKey(input.type, value);
    }
    return {
      eventId: eventIdFor(ctx, index, 'revoke', input),
      schemaVersion: 0,
      producedAt: now,
      source: { org: ctx.org, submitter: ctx.submitter },
      canonicalizationVersion: CANONICALIZATION_VERSION,
      payload: {
        kind: 'IndicatorRevoked',
        key: key!,
        type: input.type ?? null,
        value,
        platform: input.platform ?? null,
        tlp: input.tlp,
        recipients: [...new Set(input.recipients ?? [])],
        reason: input.reason,
      },
    };
  });
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_INVALID_VALUE', 'one or more values are not valid for their type', {
      details: problems,
    });
  }
  return events as ThreatEvent[];
}

function routeOf(event: ThreatEvent): { tlp: Tlp; recipients: string[]; key: string } {
  const p = event.payload;
  if (p.kind === 'IndicatorPublished')
    return { tlp: p.indicator.tlp, recipients: p.indicator.recipients, key: p.key };
  const r: IndicatorRevoked = p;
  return { tlp: r.tlp, recipients: r.recipients, key: r.key };
}

/**
 * The Kafka record of an event, exactly as the bus writes it: keyed by the
 * indicator key, the Avro single-object value, the source org's Ed25519
 * signature of those bytes, the source org and the eventId in headers.
 */
export function signedRecord(
  event: ThreatEvent,
  codec: EventCodec,
  signingKey: KeyObject,
): { key: string; value: Buffer; headers: Record<string, string> } {
  const value = codec.encode(event);
  return {
    key: event.payload.key,
    value,
    headers: {
      [HEADERS.signature]: signValue(value, signingKey),
      [HEADERS.sourceOrg]: event.source.org,
      [HEADERS.eventId]: event.eventId,
    },
  };
}

export class Publisher {
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly partitions = new Map<string, PartitionMetadata[]>();

  constructor(private readonly deps: PublisherDeps) {}

  /** Encodes, signs, routes and sends; resolves only after Kafka acknowledged every record. */
  async publish(events: ThreatEvent[]): Promise<Receipt[]> {
    const { logger, produceTimeoutMs } = this.deps;
    const started = process.hrtime.bigint();
    let outcome: 'ok' | 'error' = 'error';
    try {
      const receipts = await withTimeout(
        this.send(events, Date.now() + produceTimeoutMs),
        produceTimeoutMs,
        () =>
          new ThreatRelayError(
            'TR_KAFKA_UNAVAILABLE',
            `Kafka did not acknowledge within ${produceTimeoutMs} ms; retry with the same Idempotency-Key`,
            { retryAfterSeconds: 5 },
          ),
      );
      outcome = 'ok';
      return receipts;
    } catch (err) {
      if (isThreatRelayError(err)) throw err;
      logger.warn({ err }, 'publishing to Kafka failed');
      throw new ThreatRelayError(
        'TR_KAFKA_UNAVAILABLE',
        'Kafka is unavailable; retry with the same Idempotency-Key',
        { cause: err, retryAfterSeconds: 5 },
      );
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.deps.observeSend?.(seconds, outcome);
      logger.debug({ ms: seconds * 1000, records: events.length, outcome }, 'kafka send');
    }
  }

  private async partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const cached = this.partitions.get(topic);
    if (cached) return cached;
    const meta = await this.deps.admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = meta.topics[0]?.partitions ?? [];
    if (partitions.length === 0) throw new Error(`topic ${topic} has no partitions`);
    this.partitions.set(topic, partitions);
    return partitions;
  }

  private async send(events: ThreatEvent[], deadline: number): Promise<Receipt[]> {
    const { codec, signingKey, topics, sender } = this.deps;
    // Partitions are chosen here, with kafkajs's own (Java-compatible) partitioner,
    // so that each record's offset can be read back from the per-partition base offsets.
    const byTopicPartition = new Map<
      string,
      { topic: string; partition: number; messages: Message[]; owners: number[] }
    >();
    const receipts: Receipt[] = [];
    for (const [index, event] of events.entries()) {
      const route = routeOf(event);
      const record = signedRecord(event, codec, signingKey);
      receipts.push({ index, eventId: event.eventId, key: route.key, records: [] });
      for (const topic of topics.route(route.tlp, route.recipients)) {
        const message: Message = { ...record };
        const partition = this.partitioner({
          topic,
          partitionMetadata: await this.partitionsOf(topic),
          message,
        });
        const slot = `${topic}\u0000${partition}`;
        let group = byTopicPartition.get(slot);
        if (!group) byTopicPartition.set(slot, (group = { topic, partition, messages: [], owners: [] }));
        group.messages.push({ ...message, partition });
        group.owners.push(index);
      }
    }
    const groups = [...byTopicPartition.values()];
    const byTopic = new Map<string, Message[]>();
    for (const g of groups) byTopic.set(g.topic, [...(byTopic.get(g.topic) ?? []), ...g.messages]);
    const metadata = await sender.send(
      [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      deadline,
    );
    for (const g of groups) {
      const meta = metadata.find((m) => m.topicName === g.topic && m.partition === g.partition);
      if (!meta || meta.errorCode !== 0 || meta.baseOffset === undefined) {
        throw new Error(`Kafka did not acknowledge ${g.topic}/${g.partition}`);
      }
      const base = BigInt(meta.baseOffset);
      g.owners.forEach((owner, i) => {
        receipts[owner]!.records.push({
          topic: g.topic,
          partition: g.partition,
          offset: String(base + BigInt(i)),
        });
      });
    }
    return receipts;
  }
}
