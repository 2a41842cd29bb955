import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry } from '../platform/metrics';

/** What a subscriber reports on /metrics; every series is labelled by subscription. */
export interface SubscriberMetrics {
  registry: Registry;
  delivered: Counter<'subscription' | 'type'>;
  filtered: Counter<'subscription' | 'reason'>;
  deduplicated: Counter<'subscription' | 'outcome'>;
  deadLettered: Counter<'subscription' | 'reason'>;
  retries: Counter<'subscription'>;
  deliverySeconds: Histogram<'subscription'>;
  disabled: Gauge<'subscription'>;
}

export function createSubscriberMetrics(org: string): SubscriberMetrics {
  const registry = createRegistry(`subscriber-${org}`);
  const registers = [registry];
  return {
    registry,
    delivered: new Counter({
      name: 'threatrelay_delivered_total',
      help: 'Events acknowledged (2xx) by the webhook endpoint, by event type.',
      labelNames: ['subscription', 'type'],
      registers,
    }),
    filtered: new Counter({
      name: 'threatrelay_filtered_total',
      help: 'Records skipped by the subscription filter: reason `filter`, or `warninglist:<id>` for a list it drops.',
      labelNames: ['subscription', 'reason'],
      registers,
    }),
    deduplicated: new Counter({
      name: 'threatrelay_deduplicated_total',
      help: 'Records not delivered because the dedup store had seen them (duplicate eventId, corroboration, …).',
      labelNames: ['subscription', 'outcome'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'threatrelay_dead_lettered_total',
      help: 'Records written to the subscription DLQ, by error code.',
      labelNames: ['subscription', 'reason'],
      registers,
    }),
    retries: new Counter({
      name: 'threatrelay_delivery_retries_total',
      help: 'Webhook attempts that failed and were retried.',
      labelNames: ['subscription'],
      registers,
    }),
    deliverySeconds: new Histogram({
      name: 'threatrelay_delivery_seconds',
      help: 'From a record entering the pipeline to its webhook batch acknowledged, retries included.',
      labelNames: ['subscription'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
      registers,
    }),
    disabled: new Gauge({
      name: 'threatrelay_subscription_disabled',
      help: '1 while the subscription is disabled (its endpoint answered 410 Gone).',
      labelNames: ['subscription'],
      registers,
    }),
  };
}
