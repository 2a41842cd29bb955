import { Counter, Histogram, type Registry } from 'prom-client';
import { ERROR_CODES } from '../contract/errors';
import { INDICATOR_TYPES } from '../contract/model';
import { createRegistry } from '../platform/metrics';

/** What a producer reports on /metrics. */
export interface ProducerMetrics {
  registry: Registry;
  accepted: Counter<'org' | 'type'>;
  rejected: Counter<'org' | 'type' | 'reason'>;
  kafkaSendSeconds: Histogram<'outcome'>;
  transactionRequests: Histogram;
}

export function createProducerMetrics(org: string): ProducerMetrics {
  const registry = createRegistry(`producer-${org}`);
  return {
    registry,
    accepted: new Counter({
      name: 'threatrelay_indicators_accepted_total',
      help: 'Indicators acknowledged by Kafka and answered 202, by source org and indicator type.',
      labelNames: ['org', 'type'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'threatrelay_indicators_rejected_total',
      help: 'Indicators refused, by source org, indicator type (or "other") and error code (or "other").',
      labelNames: ['org', 'type', 'reason'],
      registers: [registry],
    }),
    kafkaSendSeconds: new Histogram({
      name: 'threatrelay_kafka_send_seconds',
      help: 'Time from handing a request to Kafka to its transaction being committed (or failing).',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    transactionRequests: new Histogram({
      name: 'threatrelay_transaction_requests',
      help: 'API requests committed together in one Kafka transaction (group commit).',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
  };
}

/**
 * A label value from a closed set, else `other`. Label values of requests
 * come from what a client sent; every distinct one is a new time series
 * kept for the life of the process, so only known values pass.
 */
function closedLabel(set: readonly string[], value: unknown): string {
  return typeof value === 'string' && set.includes(value) ? value : 'other';
}

/** The `type` label of an indicator type a client sent (or anything else it sent as one). */
export function typeLabel(type: unknown): string {
  return closedLabel(INDICATOR_TYPES, type);
}

/** The `reason` label of an error code. */
export function reasonLabel(code: unknown): string {
  return closedLabel(ERROR_CODES, code);
}
