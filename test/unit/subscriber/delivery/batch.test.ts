import type { KafkaMessage } from 'kafkajs';
import { ThreatRelayError } from '../../../../services/contract/errors';
import type { ThreatEvent } from '../../../../services/contract/model';
import type { SubscriptionConfig } from '../../../../services/platform/config/config';
import { createLogger } from '../../../../services/platform/logger';
import {
  deliverBatch,
  nextStep,
  type BatchDeliveryDeps,
  type DeliveryItem,
} from '../../../../services/subscriber/delivery/batch';
import type { postWebhook } from '../../../../services/subscriber/delivery/webhook';
import { createSubscriberMetrics } from '../../../../services/subscriber/metrics';

/**
 * The delivery phases' decisions: what a failed attempt leads to, and what
 * one batch's delivery does before, during and after its attempts. The HTTP
 * client is a fake that answers from a script; real endpoints are exercised
 * by test/integration/subscriber*.test.ts.
 */

const policy = { initialDelayMs: 10, maxDelayMs: 20, maxElapsedMs: 1000 };
const retryable = new ThreatRelayError('TR_DELIVERY_RETRYABLE', 'HTTP 503');
const rejected = new ThreatRelayError('TR_DELIVERY_REJECTED', 'HTTP 400');
const gone = new ThreatRelayError('TR_DELIVERY_GONE', 'HTTP 410');

describe('nextStep', () => {
  it('retries a failure that may pass later, after a backoff', () => {
    expect(nextStep(policy, retryable, 1, 0, () => 0.5)).toEqual({ kind: 'retry', delayMs: 5 });
  });

  it('dead-letters a failure that may pass later once the time bound would be passed', () => {
    expect(nextStep(policy, retryable, 4, 995, () => 0.5)).toEqual({
      kind: 'dead-letter',
      reason: 'gave up after 4 attempts: HTTP 503',
    });
  });

  it('dead-letters a batch the endpoint refused for good at once', () => {
    expect(nextStep(policy, rejected, 1, 0)).toEqual({ kind: 'dead-letter', reason: 'HTTP 400' });
  });

  it('disables the subscription when the endpoint is gone', () => {
    expect(nextStep(policy, gone, 1, 0).kind).toBe('disable');
  });
});

const item = (offset: number, batch?: { webhookId: string; size: number }): DeliveryItem => ({
  message: { offset: String(offset) } as KafkaMessage,
  event: {
    eventId: `e-${offset}`,
    source: { org: 'google', submitter: 's' },
    producedAt: '2026-11-03T00:00:00.000Z',
    payload: { kind: 'IndicatorPublished', key: 'k', indicator: {} },
  } as unknown as ThreatEvent,
  as: 'indicator.published',
  ...(batch ? { batch } : {}),
});

interface Script {
  answers: (ThreatRelayError | undefined)[];
  posts: string[];
  marked: string[];
  disabled: string[];
}

function deps(script: Script): BatchDeliveryDeps {
  const post = (async (_target, webhookId) => {
    script.posts.push(webhookId);
    const answer = script.answers.shift();
    if (answer) throw answer;
    return { status: 200, webhookId };
  }) as typeof postWebhook;
  return {
    subscription: { id: 'sub', format: 'native', webhook: {} } as unknown as SubscriptionConfig,
    metrics: createSubscriberMetrics(`batch-test-${Math.random()}`),
    log: createLogger('test', 'silent'),
    retryPolicy: policy,
    disable: async (reason) => {
      script.disabled.push(reason);
    },
    halted: () => script.disabled.length > 0,
    markBatch: async (_events, mark) => {
      script.marked.push(mark.webhookId);
    },
    post,
  };
}

const position = { topic: 't', partition: 0 };
const noHeartbeat = async (): Promise<void> => undefined;
const script = (answers: (ThreatRelayError | undefined)[]): Script => ({
  answers,
  posts: [],
  marked: [],
  disabled: [],
});

describe('deliverBatch', () => {
  it('records the batch in the dedup store before its first attempt', async () => {
    const s = script([undefined]);
    await deliverBatch(deps(s), [item(0), item(1)], position, noHeartbeat);
    expect(s.marked).toEqual(s.posts);
  });

  it('does not record again a batch sent again as it was', async () => {
    const s = script([undefined]);
    const first = script([undefined]);
    await deliverBatch(deps(first), [item(0)], position, noHeartbeat);
    const mark = { webhookId: first.posts[0]!, size: 1 };
    await deliverBatch(deps(s), [item(0, mark)], position, noHeartbeat);
    expect(s.marked).toEqual([]);
  });

  it('sends every attempt under one webhook-id', async () => {
    const s = script([retryable, retryable, undefined]);
    const outcome = await deliverBatch(deps(s), [item(0)], position, noHeartbeat);
    expect(outcome).toEqual({ kind: 'delivered' });
    expect(new Set(s.posts).size).toBe(1);
    expect(s.posts).toHaveLength(3);
  });

  it('hands back the dead letters of a batch refused for good, with the reason', async () => {
    const s = script([rejected]);
    const outcome = await deliverBatch(deps(s), [item(0), item(1)], position, noHeartbeat);
    expect(
      outcome.kind === 'dead-lettered' && outcome.letters.map((l) => [l.message.offset, l.reason]),
    ).toEqual([
      ['0', 'HTTP 400'],
      ['1', 'HTTP 400'],
    ]);
  });

  it('disables the subscription and commits nothing when the endpoint is gone', async () => {
    const s = script([gone]);
    const outcome = await deliverBatch(deps(s), [item(0)], position, noHeartbeat);
    expect(outcome).toEqual({ kind: 'halted' });
    expect(s.disabled).toHaveLength(1);
  });
});
