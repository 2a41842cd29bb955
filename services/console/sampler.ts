import type { Admin } from 'kafkajs';
import type { KafkaNames } from '../contract/names';
import { orgById, type Config } from '../platform/config/config';
import { summarize } from '../platform/lag';
import { GroupProgress, watchSettings } from '../platform/lag-monitor';
import type { GroupReader } from '../platform/lag-read';
import type { Logger } from '../platform/logger';
import { readDeadLetters, type SubscriptionSwitch } from '../subscriber';
import { subscriptionState, summarizeDeadLetters, type ConsoleModel, type SubscriptionView } from './state';

/**
 * One look at Kafka per tick, shared by every open page: each subscription's
 * consumer group (its members; per partition what it has not processed,
 * stalls and hanging transactions, as platform/lag.ts defines them) and the
 * end of its DLQ. A DLQ whose end moved is read again with
 * `readDeadLetters`, one at a time, so a quiet network costs a few admin
 * requests per tick and nothing more.
 */
export class Sampler {
  private readonly dlqEnds = new Map<string, number>();
  /** DLQs with a read queued behind the running one. */
  private readonly dlqQueued = new Set<string>();
  private dlqReading: Promise<void> = Promise.resolve();
  private readonly progress = new Map<string, GroupProgress>();

  constructor(
    private readonly config: Config,
    private readonly names: KafkaNames,
    private readonly admin: Admin,
    private readonly reader: GroupReader,
    private readonly model: ConsoleModel,
    private readonly switches: ReadonlyMap<string, SubscriptionSwitch>,
    private readonly logger: Logger,
  ) {}

  async tick(now = Date.now()): Promise<void> {
    const subs = [...this.model.subscriptions.values()];
    try {
      const described = await this.admin.describeGroups(subs.map((s) => this.names.subscriptionGroup(s.id)));
      const groups = new Map(described.groups.map((g) => [g.groupId, g]));
      for (const view of subs) {
        const g = groups.get(this.names.subscriptionGroup(view.id));
        const { state, detail } = subscriptionState(
          this.switches.get(view.id),
          g && { state: g.state, members: g.members.length },
        );
        view.state = state;
        view.stateDetail = detail;
        await this.sampleOffsets(view, now);
        await this.sampleDeadLetterEnd(view);
      }
      this.model.kafka = { ok: true, at: new Date(now).toISOString(), problem: undefined };
    } catch (err) {
      // Shown on the page as "Kafka unreachable"; details (hosts, principals) only in the log.
      this.logger.warn({ err }, 'console sample failed');
      this.model.kafka = { ...this.model.kafka, ok: false, problem: 'Kafka did not answer the last sample' };
    }
  }

  /** Resolves once the DLQ reads started so far are done (tests, shutdown). */
  settled(): Promise<void> {
    return this.dlqReading;
  }

  private sourceTopics(view: SubscriptionView): string[] {
    return this.names.readBy(orgById(this.config, view.org)!);
  }

  private async sampleOffsets(view: SubscriptionView, now: number): Promise<void> {
    let progress = this.progress.get(view.id);
    if (!progress) {
      const group = this.names.subscriptionGroup(view.id);
      const settings = watchSettings(this.config.monitoring);
      progress = new GroupProgress(this.reader, group, this.sourceTopics(view), settings);
      this.progress.set(view.id, progress);
    }
    const partitions = await progress.sample(now);
    const summary = summarize(partitions);
    view.partitions = partitions;
    view.lag = summary.behind;
    view.lastCommitAt = summary.lastCommitAt;
    // Kept when a later commit carries none (a dead-letter transaction's, an older member's).
    if (summary.lastDeliveryAt && summary.lastDeliveryAt > (view.lastDeliveryAt ?? '')) {
      view.lastDeliveryAt = summary.lastDeliveryAt;
    }
    const position = partitions.reduce((sum, p) => sum + Number(p.position), 0);
    if (view.lastPosition !== undefined && position > view.lastPosition) {
      view.committed.add(position - view.lastPosition, now);
    }
    view.lastPosition = position;
  }

  private async sampleDeadLetterEnd(view: SubscriptionView): Promise<void> {
    const topic = this.names.dlq(view.id);
    const ends = await this.admin.fetchTopicOffsets(topic);
    const end = ends.reduce((sum, p) => sum + Number(p.high), 0);
    if (this.dlqEnds.get(view.id) === end) return;
    this.dlqEnds.set(view.id, end);
    // One read queued per DLQ at most: it starts after the one running and reads up to the newest end.
    if (end === 0 || this.dlqQueued.has(view.id)) return;
    this.dlqQueued.add(view.id);
    this.dlqReading = this.dlqReading.then(() => {
      this.dlqQueued.delete(view.id);
      return this.readDeadLetters(view);
    });
  }

  private async readDeadLetters(view: SubscriptionView): Promise<void> {
    try {
      const entries = await readDeadLetters(this.config, view.id, this.logger, {
        groupPrefix: `${this.names.consoleGroupPrefix()}dlq.`,
      });
      view.deadLetters = summarizeDeadLetters(entries);
      const newest = view.deadLetters.latest[0];
      if (newest) view.lastError = { at: newest.at, text: `${newest.code}: ${newest.reason}` };
    } catch (err) {
      // Read again at the next tick.
      this.dlqEnds.delete(view.id);
      this.logger.warn({ err, subscription: view.id }, 'reading a DLQ failed');
    }
  }
}
