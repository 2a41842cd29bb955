import { DEFAULTS } from '../../platform/config/defaults';

/**
 * Which dedup store to open. The config schema (platform/config) validates
 * what the operator wrote; this is only the shape `createDedupStore` takes.
 */
export type DedupStoreOptions =
  | {
      /** lmdb on local disk: durable, for a subscription run by a single instance. */
      kind: 'embedded';
      /** The lmdb environment's directory, shared by a process's subscriptions: `<dataDir>/dedup`. */
      path: string;
      /** The store's name in it: the subscription id. */
      name?: string;
      windowDays?: number;
    }
  | {
      /** A Redis server shared by every instance of a scaled group. */
      kind: 'redis';
      url: string;
      /**
       * Prefix of every key the store writes, one per subscription, e.g.
       * `threatrelay:dedup:{dhs-all}:`. The braces make it a Redis Cluster hash
       * tag, keeping each script's two keys in one slot.
       */
      prefix: string;
      windowDays?: number;
    };

/** How long a report and an eventId are remembered at most. Default 30 days. */
export function windowMs(options: { windowDays?: number | undefined }): number {
  return (options.windowDays ?? DEFAULTS.dedupWindowDays) * 24 * 60 * 60 * 1000;
}
