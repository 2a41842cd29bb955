import { kafkaNames, communityLevels } from '../contract/names';
import type { Config } from '../platform/config/config';
import { createKafka } from '../platform/kafka';
import { summarize, type PartitionStatus } from '../platform/lag';
import { GroupProgress, watchSettings } from '../platform/lag-monitor';
import { GroupReader } from '../platform/lag-read';
import { createLogger } from '../platform/logger';
import { printable } from './printable';

/**
 * `threatrelay subscription status ID`: the numbers the subscriber's /metrics
 * and the console show, per partition, from the broker (platform/lag.ts). One
 * look tells how far behind; a stall is a position that does not move, so it
 * takes looking for a while (`--watch SECONDS`, one look a second). Exit 1 when
 * a partition is stalled or held by a hanging transaction.
 */

const LOOK_EVERY_MS = 1000;

export async function subscriptionStatus(config: Config, id: string, watchSeconds: number): Promise<void> {
  const sub = config.subscriptions.find((s) => s.id === id)!;
  const org = config.orgs.find((o) => o.id === sub.org)!;
  const names = kafkaNames(config.kafka.topicPrefix);
  const topics = [...communityLevels(org).map((l) => names.community(l)), names.direct(org.id)];
  const logger = createLogger('status', process.env.LOG_LEVEL ?? 'warn');
  const kafka = createKafka(config.kafka, logger);
  const admin = kafka.admin();
  await admin.connect();
  const reader = new GroupReader(kafka, admin, logger);
  try {
    const group = names.subscriptionGroup(id);
    const progress = new GroupProgress(reader, group, topics, watchSettings(config.monitoring));
    const started = Date.now();
    let statuses = await progress.sample();
    while (Date.now() - started < watchSeconds * 1000) {
      await new Promise((r) => setTimeout(r, LOOK_EVERY_MS));
      statuses = await progress.sample();
    }
    console.log(
      `subscription ${id} (group ${group}), looked for ${Math.round((Date.now() - started) / 1000)} s`,
    );
    printStatuses(statuses);
    const summary = summarize(statuses);
    console.log(
      `behind ${summary.behind}; oldest waiting ${summary.oldestWaitingSeconds} s; stalled partitions ${summary.stalledPartitions}; hanging transactions ${summary.hangingPartitions}; last delivery ${summary.lastDeliveryAt ?? '-'}`,
    );
    const waiting = statuses.filter((s) => s.behind > 0 && !s.stalledSince).length;
    if (waiting > 0 && watchSeconds < config.monitoring.stalledAfterSeconds) {
      console.log(
        `records wait on ${waiting} partition(s): a stall shows once a position stays unmoved ${config.monitoring.stalledAfterSeconds} s (--watch ${config.monitoring.stalledAfterSeconds})`,
      );
    }
    if (summary.stalledPartitions > 0 || summary.hangingPartitions > 0) process.exitCode = 1;
  } finally {
    await reader.close().catch(() => undefined);
    await admin.disconnect();
  }
}

function printStatuses(statuses: PartitionStatus[]): void {
  const header = [
    'partition',
    'position',
    'end',
    'behind',
    'oldest waiting',
    'stalled since',
    'hanging transaction',
  ];
  const rows = statuses.map((s) => [
    `${s.topic}/${s.partition}`,
    s.position,
    s.end,
    String(s.behind),
    s.oldestWaitingSeconds > 0 ? `${s.oldestWaitingSeconds} s` : '-',
    s.stalledSince ?? '-',
    s.hanging
      ? `since ${s.hanging.since} at offset ${s.hanging.startOffset}, transactional id ${printable(s.hanging.transactionalId ?? `unknown (${s.hanging.unknownBecause ?? ''})`)}`
      : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) {
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  }
}
