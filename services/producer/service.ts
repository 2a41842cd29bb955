import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadEventCodec } from '../contract/avro/codec';
import type { Config } from '../platform/config/config';
import { ThreatRelayError } from '../contract/errors';
import { brokerRoundTrip, checkOwnUser, createKafka, withTimeout } from '../platform/kafka';
import type { Logger } from '../platform/logger';
import { signerFor, signerProblem } from '../contract/keyring';
import { loadPrivateKey } from '../contract/signing';
import { kafkaNames } from '../contract/names';
import { createApp } from './http/app';
import { checkWarninglistIds, openWarninglists } from '../platform/warninglists';
import { createProducerMetrics } from './metrics';
import { Publisher } from './publish/publisher';
import { TransactionalSender } from './publish/transactional-sender';

export interface ProducerOptions {
  config: Config;
  org: string;
  /** PKCS#8 PEM of the org's Ed25519 private key. */
  signingKeyPem: string;
  port: number;
  host?: string;
  logger: Logger;
}

export interface RunningProducer {
  url: string;
  close(): Promise<void>;
}

/** Builds and starts one org's producer: Kafka clients, the publisher and the HTTP server. */
export async function startProducer(options: ProducerOptions): Promise<RunningProducer> {
  const { config, org, logger } = options;
  const orgConfig = config.orgs.find((o) => o.id === org);
  if (!orgConfig) throw new ThreatRelayError('TR_CONFIG', `org "${org}" is not in the config`);
  checkOwnUser(config, org, 'producer');
  // Before Kafka: a snapshot that cannot be read, or a rejected list it lacks, stops the start.
  const warninglists = openWarninglists(config.warninglists.dir);
  const orgIndex = config.orgs.indexOf(orgConfig);
  checkWarninglistIds(warninglists, [
    { path: `orgs.${orgIndex}.warninglists.reject`, ids: orgConfig.warninglists?.reject ?? [] },
  ]);
  const signer = signerFor(orgConfig, loadPrivateKey(options.signingKeyPem));
  const kafka = createKafka(config.kafka, logger, `threatrelay-producer-${org}`);
  const sender = new TransactionalSender({
    kafka,
    idPrefix: kafkaNames(config.kafka.topicPrefix).transactionalIdPrefix(org),
    logger,
  });
  const admin = kafka.admin();
  await Promise.all([sender.connect(), admin.connect()]);
  const metrics = createProducerMetrics(org);
  const publisher = new Publisher({
    sender,
    admin,
    codec: loadEventCodec(),
    signer,
    topics: kafkaNames(config.kafka.topicPrefix),
    logger,
    produceTimeoutMs: config.producer.produceTimeoutMs,
    observeSend: (seconds, outcome) => metrics.kafkaSendSeconds.observe({ outcome }, seconds),
    concurrency: sender.size,
    maxGroupItems: config.producer.maxBatchItems,
    observeGroup: (requests) => metrics.transactionRequests.observe(requests),
  });
  const ready = async (): Promise<void> => {
    // A key past its notAfter or revokedAt signs nothing: say so before requests fail.
    const ended = signerProblem(signer, [Date.now()]);
    if (ended) throw new Error(`cannot sign: ${ended}`);
    await withTimeout(brokerRoundTrip(admin), 3000, () => new Error('no answer from Kafka within 3 s'));
  };
  let shuttingDown = false;
  const app = createApp({
    config,
    org,
    publisher,
    logger,
    metrics,
    ready,
    isShuttingDown: () => shuttingDown,
    warninglists,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(options.port, options.host ?? '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  logger.info({ url, org, keyId: signer.key.id }, 'producer listening');
  return {
    url,
    async close() {
      // Stop taking requests, let in-flight ones finish (their Kafka sends included), then disconnect.
      shuttingDown = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sender.close();
      await admin.disconnect();
      logger.info({ org }, 'producer stopped');
    },
  };
}
