import { isThreatRelayError, type ThreatRelayError } from '../../contract/errors';
import type { SubscriptionConfig } from '../../platform/config/config';
import type { Logger } from '../../platform/logger';
import type { DedupStore } from '../dedup';
import type { DeadLetter } from '../dlq/write';
import type { SubscriberMetrics } from '../metrics';
import type { Deliverable } from '../pipeline/classify';
import { webhookBody } from './body';
import { waitWithHeartbeats } from '../pipeline/wait';
import { nextDelayMs, type RetryPolicy } from './retry-policy';
import { postWebhook, webhookIdFor } from './webhook';

/** What a failed attempt tells the batch to do next; decided by the error alone. */
export type DeliveryAction = 'retry' | 'dead-letter' | 'disable';

export function actionFor(err: ThreatRelayError): DeliveryAction {
  if (err.code === 'TR_DELIVERY_GONE') return 'disable';
  return err.canRetry ? 'retry' : 'dead-letter';
}

/**
 * `dead-lettered` hands back the letters rather than writing them: the caller makes them durable,
 * in the consumer together with the source offsets (one transaction), so a batch is never both
 * delivered and dead-lettered.
 */
export type BatchOutcome =
  { kind: 'delivered' } | { kind: 'dead-lettered'; letters: DeadLetter[] } | { kind: 'halted' };

export interface BatchDeliveryDeps {
  subscription: SubscriptionConfig;
  metrics: SubscriberMetrics;
  log: Logger;
  retryPolicy: RetryPolicy;
  /** The endpoint answered 410: disable the subscription (recorded in Kafka, then stopped). */
  disable(reason: string): Promise<void>;
  /** True once the consumer is stopping or disabled: a wait for a retry gives up its batch. */
  halted(): boolean;
  /** Records the batch in the dedup store before the first POST (absent without dedup). */
  markBatch?: DedupStore['markBatch'];
}

/**
 * Delivers one webhook batch in three phases: before (one body and one
 * webhook-id for every attempt, so receivers can dedup retries), the
 * attempt, and after (act on what the error says: retry after a backoff,
 * dead-letter, or disable). When the retry bound is reached or the endpoint
 * rejects the batch for good, the outcome carries its dead letters (with the
 * reason) for the caller to write: nothing is lost and the partition moves
 * on. 'halted' means nothing of the batch may be committed (410, or the
 * consumer is stopping).
 */
export async function deliverBatch(
  deps: BatchDeliveryDeps,
  items: Deliverable[],
  position: { topic: string; partition: number },
  heartbeat: () => Promise<void>,
): Promise<BatchOutcome> {
  const { subscription, metrics, log } = deps;
  const labels = { subscription: subscription.id };
  // Scoped by source org like dedup: another org reusing an eventId never gets this batch's webhook-id.
  const webhookId = webhookIdFor(
    subscription.id,
    items.map((i) => `${i.event.source.org}/${i.event.eventId}`),
  );
  const body = webhookBody(subscription, items, webhookId);
  // Before the first POST: if we crash after it but before the commit, the re-read sends this very batch.
  if (deps.markBatch && !items.every((i) => i.batch?.webhookId === webhookId)) {
    const events = items.map((i) => ({ org: i.event.source.org, eventId: i.event.eventId }));
    await deps.markBatch(events, { webhookId, size: items.length }).catch((err: unknown) => {
      // Not fatal: the batch still goes out; only a crash before its commit could resend it under a new id.
      log.warn({ err, webhookId }, 'could not record the webhook batch in the dedup store');
    });
  }
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    let failure: ThreatRelayError;
    try {
      await postWebhook(subscription.webhook, webhookId, body);
      for (const i of items) metrics.delivered.inc({ ...labels, type: i.as });
      log.info({ webhookId, events: items.length, attempt }, 'delivered');
      return { kind: 'delivered' };
    } catch (err) {
      if (!isThreatRelayError(err)) throw err;
      failure = err;
    }
    const action = actionFor(failure);
    if (action === 'disable') {
      await deps.disable('the webhook endpoint answered 410 Gone');
      return { kind: 'halted' };
    }
    const delay =
      action === 'retry'
        ? nextDelayMs(deps.retryPolicy, attempt, Date.now() - started, failure.retryAfterSeconds)
        : undefined;
    if (delay === undefined) {
      const reason =
        action === 'retry' ? `gave up after ${attempt} attempts: ${failure.message}` : failure.message;
      log.warn({ webhookId, attempt, reason }, 'delivery given up; the batch goes to the DLQ');
      const letters = items.map((i) => ({
        message: i.message,
        sourceTopic: position.topic,
        sourcePartition: position.partition,
        code: failure.code,
        reason,
      }));
      return { kind: 'dead-lettered', letters };
    }
    metrics.retries.inc(labels);
    log.warn({ webhookId, attempt, delayMs: delay, reason: failure.message }, 'delivery failed, will retry');
    // Asked to stop while waiting: give the batch up uncommitted; it is read again on the next start.
    if (!(await waitWithHeartbeats(delay, heartbeat, deps.halted))) return { kind: 'halted' };
  }
}
