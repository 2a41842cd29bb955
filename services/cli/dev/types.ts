import type { RunningProducer } from '../../producer/service';
import type { DemoDelivery } from '../../receiver/receiver';
import type { Config } from '../../platform/config/config';
import type { Logger } from '../../platform/logger';
import type { RunningSubscriber } from '../../subscriber/service';
import type { RunningTaxiiServer } from '../../taxii/service';

/** What the demo network is and what it was started with: read by the network, the feed and the printer alike. */

export interface DevNetworkOptions {
  /** The demo receiver's port; the producers take the next ports, then the subscribers. */
  basePort: number;
  /** Bootstrap servers, comma-separated. Default `$KAFKA_BROKERS`; with neither, the local broker is started. */
  brokers?: string;
  /** Default `threatrelay`. */
  topicPrefix?: string;
  /** Default `config/demo-network.yaml`. */
  configPath?: string;
  /** Embedded dedup stores; emptied at start, since every run's keys and eventIds are new. Default `.cache/dev-data`. */
  dataDir?: string;
  logger?: Logger;
  /** Where progress and the receiver's lines go. Default `console.log`. */
  print?: (line: string) => void;
  /** Abandons the start between steps (what was started is stopped, and the start rejects). */
  signal?: AbortSignal;
}

export interface DevNetwork {
  config: Config;
  /** Whether this network started the broker, so that `close()` stops it too. */
  startedBroker: boolean;
  receiverUrl: string;
  /** By org, in the config's order. */
  producers: Record<string, RunningProducer>;
  /** By org, in the config's order. */
  subscribers: Record<string, RunningSubscriber>;
  /** By org: a TAXII 2.1 server per org with TAXII readers (the agencies). */
  taxii: Record<string, RunningTaxiiServer>;
  /** The reader each TAXII server lets in. */
  taxiiReaders: Record<string, { username: string; password: string }>;
  /** The plain API key of each publishing org. */
  apiKeys: Record<string, string>;
  /** The operator console (on the port after the TAXII servers') and how to sign in. */
  console: { url: string; username: string; password: string };
  /** Every request the receiver verified, in arrival order. */
  deliveries: DemoDelivery[];
  /** Requests the receiver refused (missing or wrong signature). */
  rejected: { subscription: string; reason: string }[];
  close(): Promise<void>;
}
