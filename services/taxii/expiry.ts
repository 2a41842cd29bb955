import type { Logger } from '../platform/logger';
import type { TaxiiStore } from './store';

/**
 * Keeps a running TAXII store to what a store rebuilt from Kafka now would
 * hold. A rebuild reads only records the topics still keep (`retention.ms`,
 * `kafka.retentionDays`) and refuses those produced before the freshness
 * window (`taxii.windowDays`), so nothing older than the shorter of the two
 * can be in it; the sweep drops what is older than that from the running
 * store.
 *
 * Bounded: a sweep removes at most `batch` entries per lmdb transaction and
 * at most `batches` transactions, yielding between them so the HTTP API
 * keeps answering; what is left waits for the next sweep, every
 * `intervalMs`. The clock is injected, so the rule is tested without waiting.
 */

export interface ExpiryOptions {
  store: TaxiiStore;
  /** Objects whose newest record is older than this are dropped. */
  maxAgeMs: number;
  /** Between sweeps. Default 10 minutes. */
  intervalMs?: number;
  /** Entries per transaction. Default 1,000. */
  batch?: number;
  /** Transactions per sweep. Default 20. */
  batches?: number;
  now?: () => number;
  logger?: Logger;
  /** Called with the number of object versions each sweep dropped (when it dropped any). */
  onExpired?: (versions: number) => void;
}

export interface SweepResult {
  versions: number;
  events: number;
  /** Whether the sweep stopped at its bound with more still due. */
  more: boolean;
}

/** The shortest time a record is kept on the topics or accepted as fresh, in ms. */
export function taxiiMaxAgeMs(config: {
  kafka: { retentionDays: number };
  taxii: { windowDays: number };
}): number {
  return Math.min(config.kafka.retentionDays, config.taxii.windowDays) * 86_400_000;
}

export class TaxiiExpiry {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: ExpiryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** One bounded sweep; a sweep asked for while one runs shares it. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<SweepResult> {
    const { store, maxAgeMs, batch = 1000, batches = 20 } = this.options;
    const cutoff = this.now() - maxAgeMs;
    const total: SweepResult = { versions: 0, events: 0, more: false };
    for (let i = 0; i < batches && !this.stopped; i++) {
      const r = await store.expire(cutoff, batch);
      total.versions += r.versions;
      total.events += r.events;
      total.more = r.more;
      if (!r.more) break;
      // Let requests in between transactions.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (total.versions > 0 || total.events > 0) {
      this.options.onExpired?.(total.versions);
      this.options.logger?.info(
        { ...total, cutoff: new Date(cutoff).toISOString() },
        'TAXII store: dropped what the topics no longer hold',
      );
    }
    return total;
  }

  /** Sweeps now, then every `intervalMs` until stopped. */
  start(): void {
    const tick = (): void => {
      this.sweep().catch((err: unknown) => this.options.logger?.error({ err }, 'TAXII expiry sweep failed'));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? 10 * 60_000);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress, so the store can be closed after. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
