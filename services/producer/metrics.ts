import { Counter, Histogram, type Registry } from 'prom-client';
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
      help: 'Indicators refused, by source org, indicator type (or "unknown") and error code.',
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
