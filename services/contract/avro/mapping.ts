import { ThreatRelayError } from '../errors';
import type { EventPayload, Indicator, IndicatorRevoked, Sighting, ThreatEvent } from '../model';

/**
 * The model's ThreatEvent and the Avro record the schemas describe, each way:
 * the same fields, but the payload a named union branch, and what a reader
 * schema lacks filled in as the model says.
 */

export const NAMESPACE = 'org.threatrelay';
const PUBLISHED = `${NAMESPACE}.IndicatorPublished`;
const REVOKED = `${NAMESPACE}.IndicatorRevoked`;
const SIGHTING = `${NAMESPACE}.Sighting`;

/** The Avro-side shapes, as avsc reads and writes them. */
export interface AvroEnvelope {
  eventId: string;
  schemaVersion: number;
  producedAt: string;
  source: { org: string; submitter: string };
  canonicalizationVersion: number;
  payload: { [PUBLISHED]?: AvroPublished; [REVOKED]?: AvroRevoked; [SIGHTING]?: AvroSighting };
}
interface AvroPublished {
  key: string;
  /** Fields newer than the reader's schema are absent (v1 has no `firstSeen`, v1 and v2 no `quality`, `variants`, `warnings`). */
  indicator: Omit<Indicator, 'firstSeen' | 'quality' | 'variants' | 'warnings'> & {
    firstSeen?: string | null;
    quality?: number | null;
    variants?: string[];
    warnings?: { list: string; version: number }[];
  };
}
type AvroRevoked = Omit<IndicatorRevoked, 'kind'>;
type AvroSighting = Omit<Sighting, 'kind'>;

export function toAvro(event: ThreatEvent, version: number): AvroEnvelope {
  // The model's payload objects already carry every Avro field under the same
  // name (avsc ignores `kind` and any field its schema lacks), so they are
  // written as they are: only the union branch needs naming.
  const payload = event.payload;
  let wrapped: AvroEnvelope['payload'];
  if (payload.kind === 'IndicatorPublished') wrapped = { [PUBLISHED]: payload };
  else if (payload.kind === 'IndicatorRevoked') wrapped = { [REVOKED]: payload };
  else if (payload.kind === 'Sighting') wrapped = { [SIGHTING]: payload };
  else throw new Error(`unknown payload kind ${(payload as { kind: unknown }).kind as string}`);
  return {
    eventId: event.eventId,
    schemaVersion: version,
    producedAt: event.producedAt,
    source: event.source,
    canonicalizationVersion: event.canonicalizationVersion,
    payload: wrapped,
  };
}

export function fromAvro(avro: AvroEnvelope): ThreatEvent {
  let payload: EventPayload;
  const published = avro.payload[PUBLISHED];
  const revoked = avro.payload[REVOKED];
  const sighting = avro.payload[SIGHTING];
  if (published !== undefined) {
    const i = published.indicator;
    payload = {
      kind: 'IndicatorPublished',
      key: published.key,
      indicator: {
        type: i.type,
        value: i.value,
        platform: i.platform,
        category: i.category,
        tlp: i.tlp,
        recipients: i.recipients,
        confidence: i.confidence,
        severity: i.severity,
        validFrom: i.validFrom,
        validUntil: i.validUntil,
        threatActor: i.threatActor,
        campaign: i.campaign,
        tags: i.tags,
        description: i.description,
        references: i.references,
        // A reader schema without the field (v1) leaves it undefined; the model says null.
        firstSeen: i.firstSeen ?? null,
        quality: i.quality ?? null,
        variants: i.variants ?? [],
        // Plain objects, not avsc's Warning record instances.
        warnings: (i.warnings ?? []).map((w) => ({ list: w.list, version: w.version })),
      },
    };
  } else if (revoked !== undefined) {
    payload = {
      kind: 'IndicatorRevoked',
      key: revoked.key,
      type: revoked.type,
      value: revoked.value,
      platform: revoked.platform,
      tlp: revoked.tlp,
      recipients: revoked.recipients,
      reason: revoked.reason,
    };
  } else if (sighting !== undefined) {
    payload = {
      kind: 'Sighting',
      key: sighting.key,
      sightingKind: sighting.sightingKind,
      count: sighting.count,
      firstSeen: sighting.firstSeen,
      lastSeen: sighting.lastSeen,
      where: sighting.where,
      note: sighting.note,
      tlp: sighting.tlp,
      recipients: sighting.recipients,
      to: sighting.to,
    };
  } else {
    throw new ThreatRelayError(
      'TR_CODEC_UNKNOWN_BRANCH',
      `payload is no known branch: ${Object.keys(avro.payload).join(', ')}`,
    );
  }
  // Plain objects, not avsc's record instances, so consumers (JSON, STIX,
  // structuredClone, toStrictEqual) see exactly the model's shape.
  return {
    eventId: avro.eventId,
    schemaVersion: avro.schemaVersion,
    producedAt: avro.producedAt,
    source: { org: avro.source.org, submitter: avro.source.submitter },
    canonicalizationVersion: avro.canonicalizationVersion,
    payload,
  };
}
