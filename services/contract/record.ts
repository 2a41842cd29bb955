import type { KeyObject } from 'node:crypto';
import type { EventCodec } from './avro/codec';
import { HEADERS } from './definitions';
import type { ThreatEvent } from './model';
import { encodeBatchProof, signBatch } from './batch-signature';
import { ThreatRelayError } from './errors';
import { signerProblem, type Signer } from './keyring';
import { signValue } from './signing';

export interface BusRecord {
  key: string;
  value: Buffer;
  headers: Record<string, string | Buffer>;
}

/**
 * The Kafka records of one transaction's events, as the producer writes
 * them: keyed by indicator key, the Avro single-object value, one batch
 * signature (v2, naming the signer's key id) over all of them, the source
 * org and the eventId in headers. Throws TR_CONFIG rather than sign with a
 * key readers would refuse at the events' `producedAt`.
 */
export function signedBatch(events: readonly ThreatEvent[], codec: EventCodec, signer: Signer): BusRecord[] {
  if (events.length === 0) return [];
  const org = signer.org;
  if (events.some((e) => e.source.org !== org))
    throw new RangeError(`a batch is signed by its own org (${org})`);
  const problem = signerProblem(
    signer,
    events.map((e) => Date.parse(e.producedAt)),
  );
  if (problem) throw new ThreatRelayError('TR_CONFIG', `refusing to sign: ${problem}`);
  const values = events.map((e) => codec.encode(e));
  const proofs = signBatch(values, signer);
  return events.map((event, i) => ({
    key: event.payload.key,
    value: values[i]!,
    headers: {
      [HEADERS.batchSignature]: encodeBatchProof(proofs[i]!),
      [HEADERS.sourceOrg]: org,
      [HEADERS.eventId]: event.eventId,
    },
  }));
}

/**
 * One record signed on its own (v1): what producers wrote before batch
 * signatures, still read by every subscriber. The Kafka record of an event: keyed by the
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
