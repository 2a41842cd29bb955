import { Gauge, type Registry } from 'prom-client';
import type { GroupReader } from './lag-read';
import { ProgressWatch, type HangingTransaction, type PartitionStatus, type WatchSettings } from './lag';
import type { MonitoringSettings } from './config/config';
import type { Logger } from './logger';

/** The config's thresholds as `ProgressWatch` takes them. */
export function watchSettings(m: MonitoringSettings): WatchSettings {
  return { stalledAfterMs: m.stalledAfterSeconds * 1000, hangingAfterMs: m.hangingAfterSeconds * 1000 };
}

/**
 * One consumer group watched over time: each `sample` reads it (GroupReader),
 * judges it (ProgressWatch) and, for a transaction found hanging, looks up who
 * holds it once. The subscriber and the TAXII feed sample on a timer into
 * /metrics; the console on its own tick; the CLI a few times in a row.
 */
export class GroupProgress {
  private readonly watch: ProgressWatch;
  /** Who holds each hanging transaction, by partition and start offset: looked up once. */
  private readonly holders = new Map<string, Promise<Omit<HangingTransaction, 'startOffset' | 'since'>>>();
  last: PartitionStatus[] = [];

  constructor(
    private readonly reader: GroupReader,
    readonly groupId: string,
    private readonly topics: string[],
    settings: WatchSettings,
  ) {
    this.watch = new ProgressWatch(settings);
  }

  async sample(now = Date.now()): Promise<PartitionStatus[]> {
    const readings = await this.reader.read(this.groupId, this.topics);
    const statuses = this.watch.update(readings, now);
    for (const s of statuses) {
      if (s.hanging) s.hanging = { ...s.hanging, ...(await this.holder(s, s.hanging.startOffset)) };
    }
    this.last = statuses;
    return statuses;
  }

  private holder(
    s: PartitionStatus,
    startOffset: string,
  ): Promise<Omit<HangingTransaction, 'startOffset' | 'since'>> {
    const key = `${s.topic}/${s.partition}@${startOffset}`;
    let found = this.holders.get(key);
    if (!found) {
      found = this.lookUpHolder(s, startOffset);
      this.holders.set(key, found);
    }
    return found;
  }

  private async lookUpHolder(
    s: PartitionStatus,
    startOffset: string,
  ): Promise<Omit<HangingTransaction, 'startOffset' | 'since'>> {
    const producerId = await this.reader
      .openProducer(s.topic, s.partition, startOffset)
      .catch(() => undefined);
    if (producerId === undefined) return { unknownBecause: 'its first record could not be read' };
    try {
      const transactionalId = await this.reader.transactionalIdOf(producerId);
      return transactionalId
        ? { producerId, transactionalId }
        : { producerId, unknownBecause: 'no coordinator records this producer id' };
    } catch (err) {
      return {
        producerId,
        unknownBecause: `__transaction_state could not be read (${(err as Error).message})`,
      };
    }
  }
}

/** The gauges every reader of the bus reports, labelled by `label` (subscription, feed), topic and partition. */
export class ProgressMetrics {
  private readonly behind: Gauge;
  private readonly oldest: Gauge;
  private readonly stalled: Gauge;
  private readonly hanging: Gauge;

  constructor(
    registry: Registry,
    private readonly label: string,
  ) {
    const labelNames = [label, 'topic', 'partition'];
    const registers = [registry];
    this.behind = new Gauge({
      name: 'threatrelay_consumer_lag',
      help: 'Records not yet processed, up to the last stable offset, transaction markers not counted (docs/monitoring.md).',
      labelNames,
      registers,
    });
    this.oldest = new Gauge({
      name: 'threatrelay_consumer_oldest_waiting_seconds',
      help: 'Age of the oldest record not yet processed, by its timestamp; 0 when none waits.',
      labelNames,
      registers,
    });
    this.stalled = new Gauge({
      name: 'threatrelay_consumer_stalled_since_timestamp_seconds',
      help: 'Unix time since which records wait and the committed offset has not moved (after the stall threshold); 0 when not stalled.',
      labelNames,
      registers,
    });
    this.hanging = new Gauge({
      name: 'threatrelay_consumer_hanging_transaction_since_timestamp_seconds',
      help: 'Unix time since which a transaction holds the partition open, longer than any producer of the bus keeps one; 0 when none.',
      labelNames: [...labelNames, 'transactional_id'],
      registers,
    });
  }

  report(value: string, statuses: readonly PartitionStatus[]): void {
    const seconds = (iso: string | undefined): number => (iso ? Math.floor(Date.parse(iso) / 1000) : 0);
    // Series of a transactional id no longer hanging go; the other gauges are overwritten below.
    this.hanging.reset();
    for (const s of statuses) {
      const labels = { [this.label]: value, topic: s.topic, partition: String(s.partition) };
      this.behind.set(labels, s.behind);
      this.oldest.set(labels, s.oldestWaitingSeconds);
      this.stalled.set(labels, seconds(s.stalledSince));
      if (s.hanging) {
        this.hanging.set(
          { ...labels, transactional_id: s.hanging.transactionalId ?? 'unknown' },
          seconds(s.hanging.since),
        );
      }
    }
  }
}

/** Samples groups on a timer, one sample at a time, until stopped. */
export class ProgressMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly groups: { progress: GroupProgress; report(statuses: PartitionStatus[]): void }[],
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** One sample of every group now (also what a subscriber waiting out an outage calls). */
  sampleNow(): Promise<void> {
    this.running ??= (async () => {
      for (const g of this.groups) {
        try {
          g.report(await g.progress.sample());
        } catch (err) {
          this.logger.warn({ err, groupId: g.progress.groupId }, 'reading group progress failed');
        }
      }
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.sampleNow().then(() => this.schedule(this.intervalMs));
    }, ms);
    this.timer.unref();
  }
}
