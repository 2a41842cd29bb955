import { z } from 'zod';
import { DEFAULTS } from '../../contract/definitions';

/**
 * Which dedup store a subscription uses. The schema is meant to be embedded in
 * the config schema; `createDedupStore` takes its input type, so defaults
 * apply either way.
 */

const windowDays = z.number().int().min(1).max(3650).optional();

export const dedupStoreOptionsSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    /** lmdb on local disk: durable, for a subscription run by a single instance. */
    kind: z.literal('embedded'),
    /** The store's directory, one per subscription, e.g. `<dataDir>/dedup/<subscription>`. */
    path: z.string().min(1),
    /** How long a report and an eventId are remembered at most. Default 30 days. */
    windowDays,
  }),
  z.strictObject({
    /** A Redis server shared by every instance of a scaled group. */
    kind: z.literal('redis'),
    /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
    url: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }),
    /**
     * Prefix of every key the store writes, one per subscription, e.g.
     * `threatrelay:dedup:{dhs-all}:`. The braces make it a Redis Cluster hash
     * tag, keeping each script's two keys in one slot.
     */
    prefix: z.string().min(1),
    /** How long a report and an eventId are remembered at most. Default 30 days. */
    windowDays,
  }),
]);

export type DedupStoreOptions = z.input<typeof dedupStoreOptionsSchema>;

export function windowMs(options: { windowDays?: number | undefined }): number {
  return (options.windowDays ?? DEFAULTS.dedupWindowDays) * 24 * 60 * 60 * 1000;
}
