import { provideBroker, type ProvidedBroker } from '../testkit/broker-provider';

declare global {
  var __threatrelayBroker: ProvidedBroker | undefined;
}

/** Starts (or finds) the one broker the integration tests share; workers read KAFKA_BROKERS. */
export default async function globalSetup(): Promise<void> {
  const broker = await provideBroker();
  globalThis.__threatrelayBroker = broker;
  process.env.KAFKA_BROKERS = broker.bootstrap;
  process.env.THREATRELAY_TEST_BROKER_DESCRIPTION = broker.description;
  // One line every run: which broker (its description starts with its kind: external, testcontainers
  // or local), and why not Testcontainers when not.
  console.log(
    `\nbroker: ${broker.description}${broker.fallbackReason ? ` (not Testcontainers: ${broker.fallbackReason})` : ''}`,
  );
}
