import type { KafkaMessage } from 'kafkajs';
import { isThreatRelayError, type ThreatRelayError } from '../../contract/errors';
import { eventScope } from '../../contract/identity';
import type { ThreatEvent } from '../../contract/model';
import type { Warning } from '../../contract/warninglists';
import type { DeliveryDetail, DeliveryKind } from '../../contract/webhook-body';
import { waitWithHeartbeats } from '../../platform/backoff';
import type { SubscriptionConfig } from '../../platform/config/config';
import type { Logger } from '../../platform/logger';
import type { BatchMark, DedupStore } from '../dedup';
import type { DeadLetter } from '../dlq/write';
import type { SubscriberMetrics } from '../metrics';
import { webhookBody } from './body';
import { nextDelayMs, type RetryPolicy } from './retry-policy';
import { postWebhook, webhookIdFor } from './webhook';

/** One event of a webhook batch: the record it came from, and what the receiver is told it is. */
export interface DeliveryItem {
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
  /** The HTTP client; default `postWebhook` (unit tests of the decisions give a fake). */
  post?: typeof postWebhook;
}

/** After a failed attempt: what the batch does next, decided by the error, the policy and the time spent. */
export type NextStep =
  | { kind: 'retry'; delayMs: number }
  | { kind: 'dead-letter'; reason: string }
  | { kind: 'disable'; reason: string };

/**
 * The after phase: a 410 disables the subscription; a failure that may pass
 * later is retried after a backoff (a receiver's `Retry-After` honored) until
 * the policy's time bound; anything else, or a retry past the bound, sends
 * the batch to the dead letters with the reason.
 */
export function nextStep(
  policy: RetryPolicy,
  failure: ThreatRelayError,
  attempt: number,
  elapsedMs: number,
  random?: () => number,
): NextStep {
  const action = actionFor(failure);
  if (action === 'disable') return { kind: 'disable', reason: 'the webhook endpoint answered 410 Gone' };
  if (action === 'dead-letter') return { kind: 'dead-letter', reason: failure.message };
  const delayMs = nextDelayMs(policy, attempt, elapsedMs, failure.retryAfterSeconds, random);
  if (delayMs === undefined)
    return { kind: 'dead-letter', reason: `gave up after ${attempt} attempts: ${failure.message}` };
  return { kind: 'retry', delayMs };
}

/**
 * Delivers one webhook batch in three phases: before (one body and one
 * webhook-id for every attempt, so receivers can dedup retries), the
 * attempt, and after (`nextStep`: retry after a backoff, dead-letter, or
 * disable). When the retry bound is reached or the endpoint rejects the
 * batch for good, the outcome carries its dead letters (with the reason)
 * for the caller to write: nothing is lost and the partition moves on.
 * 'halted' means nothing of the batch may be committed (410, or the
 * consumer is stopping).
 */
export async function deliverBatch(
  deps: BatchDeliveryDeps,
  items: DeliveryItem[],
  position: { topic: string; partition: number },
  heartbeat: () => Promise<void>,
): Promise<BatchOutcome> {
  const { subscription, metrics, log } = deps;
  const labels = { subscription: subscription.id };
  const { webhookId, body } = await before(deps, items);
  const post = deps.post ?? postWebhook;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    let failure: ThreatRelayError;
    try {
      await post(subscription.webhook, webhookId, body);
      for (const i of items) metrics.delivered.inc({ ...labels, type: i.as });
      log.info({ webhookId, events: items.length, attempt }, 'delivered');
      return { kind: 'delivered' };
    } catch (err) {
      if (!isThreatRelayError(err)) throw err;
      failure = err;
    }
    const next = nextStep(deps.retryPolicy, failure, attempt, Date.now() - started);
    if (next.kind === 'disable') {
      await deps.disable(next.reason);
      return { kind: 'halted' };
    }
    if (next.kind === 'dead-letter') {
      log.warn({ webhookId, attempt, reason: next.reason }, 'delivery given up; the batch goes to the DLQ');
      return { kind: 'dead-lettered', letters: lettersFor(items, position, failure, next.reason) };
    }
    metrics.retries.inc(labels);
    log.warn(
      { webhookId, attempt, delayMs: next.delayMs, reason: failure.message },
      'delivery failed, will retry',
    );
    // Asked to stop while waiting: give the batch up uncommitted; it is read again on the next start.
    if (!(await waitWithHeartbeats(next.delayMs, heartbeat, deps.halted))) return { kind: 'halted' };
  }
}

/**
 * The before phase: the batch's webhook-id (scoped by source org like dedup: another org reusing an
 * eventId never gets this batch's webhook-id) and body, and the batch recorded in the dedup store
 * before the first POST, so that a crash after it but before the commit re-sends this very batch.
 */
async function before(
  deps: BatchDeliveryDeps,
  items: DeliveryItem[],
): Promise<{ webhookId: string; body: string }> {
  const { subscription, log } = deps;
  const webhookId = webhookIdFor(
    subscription.id,
    items.map((i) => eventScope({ org: i.event.source.org, eventId: i.event.eventId })),
  );
  const body = webhookBody(subscription, items, webhookId);
  if (deps.markBatch && !items.every((i) => i.batch?.webhookId === webhookId)) {
    const events = items.map((i) => ({ org: i.event.source.org, eventId: i.event.eventId }));
    await deps.markBatch(events, { webhookId, size: items.length }).catch((err: unknown) => {
      // Not fatal: the batch still goes out; only a crash before its commit could resend it under a new id.
      log.warn({ err, webhookId }, 'could not record the webhook batch in the dedup store');
    });
  }
  return { webhookId, body };
}

function lettersFor(
  items: DeliveryItem[],
  position: { topic: string; partition: number },
  failure: ThreatRelayError,
  reason: string,
): DeadLetter[] {
  return items.map((i) => ({
    message: i.message,
    sourceTopic: position.topic,
    sourcePartition: position.partition,
    code: failure.code,
    reason,
  }));
}
