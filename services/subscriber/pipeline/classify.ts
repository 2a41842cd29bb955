import type { KafkaMessage } from 'kafkajs';
import { isThreatRelayError, type ErrorCode } from '../../contract/errors';
import type { ThreatEvent } from '../../contract/model';
import type { SubscriptionConfig } from '../../platform/config/config';
import type { BatchMark } from '../dedup';
import type { DedupPort } from '../dedup/port';
import type { SubscriberMetrics } from '../metrics';
import { passesFilter } from './filter';
import type { DeliveryDetail, DeliveryKind } from '../../contract/webhook-body';
import { verifyRecord, type RecordChecks } from '../../contract/record-read';
import { readerWarnings, type Warning, type WarninglistIndex } from '../../contract/warninglists';
import { droppedBy } from './warnings';

export type Classified =
  | {
      kind: 'deliver';
      message: KafkaMessage;
      event: ThreatEvent;
      as: DeliveryKind;
      /** What the dedup store adds: sources, their labels, an update's changes. */
      detail?: DeliveryDetail;
      /** For a published indicator: the warninglists it is on, as this reader found them. */
      warnings?: Warning[];
      /** Read again after it was handed to this webhook batch: send that batch again, as it was. */
      batch?: BatchMark;
    }
  | { kind: 'skip'; message: KafkaMessage }
  | { kind: 'dead'; message: KafkaMessage; code: ErrorCode; reason: string };
export type Deliverable = Extract<Classified, { kind: 'deliver' }>;

export interface ClassifyDeps extends RecordChecks {
  subscription: SubscriptionConfig;
  metrics: SubscriberMetrics;
  /** Absent: every entitled, filtered record is delivered. */
  dedup?: DedupPort | undefined;
  /** The reader's own warninglists; absent: events carry no warnings and nothing is dropped by list. */
  warninglists?: WarninglistIndex | undefined;
}

/**
 * What one record means for one subscription: verified and entitled
 * (verify.ts), then the subscription's filter, then its dedup store. A
 * replay of dead letters bypasses dedup and freshness: an operator asked
 * for exactly these records, whenever they were first written.
 */
export async function classify(
  deps: ClassifyDeps,
  message: KafkaMessage,
  position: { topic: string; partition: number },
  options: { replay?: boolean } = {},
): Promise<Classified> {
  const subscription = deps.subscription.id;
  const verdict = verifyRecord(deps, message, { skipFreshness: options.replay === true, position });
  if (!verdict.ok) return { kind: 'dead', message, code: verdict.code, reason: verdict.reason };
  const event = verdict.event;
  if (!passesFilter(deps.subscription.filter, event)) {
    deps.metrics.filtered.inc({ subscription, reason: 'filter' });
    return { kind: 'skip', message };
  }
  const warnings =
    deps.warninglists && event.payload.kind === 'IndicatorPublished'
      ? readerWarnings(deps.warninglists, event.payload.indicator)
      : undefined;
  const dropped = warnings && droppedBy(deps.subscription.filter, warnings);
  if (dropped) {
    deps.metrics.filtered.inc({ subscription, reason: `warninglist:${dropped}` });
    return { kind: 'skip', message };
  }
  const warned = warnings ? { warnings } : {};
  if (!deps.dedup || options.replay) {
    // A sighting goes only to keys the subscription holds, which only its store knows.
    if (event.payload.kind === 'Sighting') return { kind: 'skip', message };
    const as = event.payload.kind === 'IndicatorPublished' ? 'indicator.published' : 'indicator.revoked';
    return { kind: 'deliver', message, event, as, ...warned };
  }
  let decision;
  try {
    decision = await deps.dedup(event, `${position.topic}/${position.partition}/${message.offset}`);
  } catch (err) {
    // The store refused this record's fields: its fault, not the store's. (Down: TR_DEDUP_UNAVAILABLE
    // propagates, and the consumer retries without committing.)
    if (!isThreatRelayError(err, 'TR_DEDUP_REJECTED')) throw err;
    return { kind: 'dead', message, code: err.code, reason: err.message };
  }
  if (!decision.deliver) {
    deps.metrics.deduplicated.inc({ subscription, outcome: decision.outcome });
    return { kind: 'skip', message };
  }
  return {
    kind: 'deliver',
    message,
    event,
    as: decision.deliver,
    ...warned,
    ...(decision.detail ? { detail: decision.detail } : {}),
    ...(decision.batch ? { batch: decision.batch } : {}),
  };
}
