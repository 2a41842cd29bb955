import type { KeyObject } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import type { EventCodec } from '../../contract/avro/codec';
import { HEADERS } from '../../contract/definitions';
import { isThreatRelayError, type ErrorCode } from '../../contract/errors';
import { routeOf, type ThreatEvent } from '../../contract/model';
import { verifyValue } from '../../contract/signing';
import type { OrgConfig } from '../../platform/config/config';
import { headerText } from '../../platform/kafka';
import { entitlementProblem } from './entitlement';

/** What a reader needs to decide whether a record is what it claims and meant for it. */
export interface RecordChecks {
  codec: EventCodec;
  /** Public keys of the publishing orgs, by org id. */
  orgKeys: ReadonlyMap<string, KeyObject>;
  /** The reading org: entitlement is checked against it. */
  org: OrgConfig;
}

export type Verdict = { ok: true; event: ThreatEvent } | { ok: false; code: ErrorCode; reason: string };

const reject = (code: ErrorCode, reason: string): Verdict => ({ ok: false, code, reason });

/**
 * Everything a reader checks before it believes a record: signed by a known
 * org, decodable, claiming the org that signed it, and entitled to the
 * reading org. A failure is a verdict with its code, never an exception, so
 * the caller dead-letters it and the partition moves on.
 */
export function verifyRecord(checks: RecordChecks, message: KafkaMessage): Verdict {
  const value = message.value;
  if (!value) return reject('TR_CODEC_MALFORMED', 'record has no value');
  const sourceOrg = headerText(message, HEADERS.sourceOrg);
  const signature = headerText(message, HEADERS.signature);
  if (!sourceOrg || !signature) return reject('TR_SIGNATURE_INVALID', 'record is not signed');
  const key = checks.orgKeys.get(sourceOrg);
  if (!key) return reject('TR_SIGNATURE_INVALID', `no public key for source org ${sourceOrg}`);
  if (!verifyValue(value, signature, key)) {
    return reject('TR_SIGNATURE_INVALID', `signature does not verify for ${sourceOrg}`);
  }
  let event: ThreatEvent;
  try {
    event = checks.codec.decode(value);
  } catch (err) {
    if (!isThreatRelayError(err)) throw err;
    return reject(err.code, err.message);
  }
  if (event.source.org !== sourceOrg) {
    return reject(
      'TR_SIGNATURE_INVALID',
      `record claims source ${event.source.org} but is signed by ${sourceOrg}`,
    );
  }
  const route = routeOf(event.payload);
  const problem = entitlementProblem(checks.org, route.tlp, route.recipients);
  if (problem) return reject('TR_FORBIDDEN', problem);
  return { ok: true, event };
}
