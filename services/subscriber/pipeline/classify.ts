import type { KafkaMessage } from 'kafkajs';
import { isThreatRelayError, type ErrorCode } from '../../contract/errors';
import { backoffDelay, waitWithHeartbeats, type Backoff } from '../../platform/backoff';
import type { SubscriptionConfig } from '../../platform/config/config';
import type { Logger } from '../../platform/logger';
import type { DedupPort } from '../dedup/port';
import type { SubscriberMetrics } from '../metrics';
import { passesFilter } from './filter';
import { verifyRecord, type RecordChecks } from '../../contract/record-read';
import type { DeliveryItem } from '../delivery/batch';
import { readerWarnings, type WarninglistIndex } from '../../contract/warninglists';
import { droppedBy } from './warnings';

/** What one record means for one subscription: deliver it (as what), skip it, or dead-letter it (why). */
export type Classified =
  | ({ kind: 'deliver' } & DeliveryItem)
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
 * (contract/record-read.ts), then the subscription's filter, then its dedup store. A
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

/** Waits between tries of a record while its dedup store is down. */
const DEDUP_OUTAGE_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };

/** What classifying a chunk needs beyond one record's checks: how to ride out a dedup outage. */
export interface ChunkDeps extends ClassifyDeps {
  log: Logger;
  /** Resolves when the dedup store answers at all: tells an outage from one record it keeps failing. */
  dedupPing?: (() => Promise<void>) | undefined;
  /** Called on every try during an outage, so /metrics keeps showing the group's lag grow. */
  onOutage?: (() => Promise<void>) | undefined;
}

/** Classifies records in offset order, their dedup calls in flight together; undefined: stopping mid-outage. */
export async function classifyChunk(
  deps: ChunkDeps,
  chunk: KafkaMessage[],
  position: { topic: string; partition: number },
  heartbeat: () => Promise<void>,
  carryOn: () => boolean,
): Promise<Classified[] | undefined> {
  const settled = await Promise.allSettled(chunk.map((m) => classify(deps, m, position)));
  const classified: Classified[] = [];
  for (const [j, result] of settled.entries()) {
    if (result.status === 'fulfilled') {
      classified.push(result.value);
      continue;
    }
    const c = await classifyThroughOutage(deps, chunk[j]!, position, result.reason, heartbeat, carryOn);
    if (!c) return undefined;
    classified.push(c);
  }
  return classified;
}

/**
 * A record whose dedup call failed. While the store is down, it is retried
 * with backoff for as long as it takes, heartbeating, committing nothing,
 * and lag keeps growing on /metrics. When the store answers but keeps
 * failing this one record (three times), the record is dead-lettered, so
 * it cannot stall its partition. Undefined: the consumer is stopping.
 */
async function classifyThroughOutage(
  deps: ChunkDeps,
  message: KafkaMessage,
  position: { topic: string; partition: number },
  error: unknown,
  heartbeat: () => Promise<void>,
  carryOn: () => boolean,
): Promise<Classified | undefined> {
  let failuresWhileUp = 0;
  for (let lastError = error, attempt = 1; ; attempt++) {
    const delayMs = backoffDelay(DEDUP_OUTAGE_BACKOFF, attempt);
    if (!isThreatRelayError(lastError, 'TR_DEDUP_UNAVAILABLE')) throw lastError;
    const storeUp = deps.dedupPing
      ? await deps.dedupPing().then(
          () => true,
          () => false,
        )
      : true;
    if (storeUp) failuresWhileUp += 1;
    if (failuresWhileUp >= 3) {
      const reason = `the dedup store answers but failed this record ${failuresWhileUp} times: ${describe(lastError)}`;
      return { kind: 'dead', message, code: 'TR_DEDUP_REJECTED', reason };
    }
    deps.log.warn(
      { ...position, offset: message.offset, storeUp, retryInMs: delayMs, err: lastError },
      'dedup store failed; retrying the record, nothing committed',
    );
    await deps.onOutage?.();
    if (!(await waitWithHeartbeats(delayMs, heartbeat, () => !carryOn()))) return undefined;
    try {
      return await classify(deps, message, position);
    } catch (err) {
      lastError = err;
    }
  }
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}
