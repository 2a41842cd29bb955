import type { KeyObject } from 'node:crypto';
import type { EventCodec } from './avro/codec';
import { HEADERS } from './definitions';
import type { ThreatEvent } from './model';
import { signValue } from './signing';

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
