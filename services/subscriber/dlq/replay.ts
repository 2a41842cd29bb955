import { join } from 'node:path';
import type { KafkaMessage, Producer } from 'kafkajs';
import { loadEventCodec } from '../../contract/avro/codec';
import { HEADERS } from '../../contract/definitions';
import { ThreatRelayError } from '../../contract/errors';
import { kafkaNames } from '../../contract/names';
import { orgPublicKeys } from '../../contract/keyring';
import { orgById, type Config } from '../../platform/config/config';
import { createIdempotentProducer, createKafka } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';
import { createSubscriberMetrics } from '../metrics';
import { deliverBatch, type BatchDeliveryDeps, type DeliveryItem } from '../delivery/batch';
import { DEFAULT_RETRY_POLICY } from '../delivery/retry-policy';
import { classify, type ClassifyDeps } from '../pipeline/classify';
import { freshnessFor } from '../pipeline/freshness';
import { openDedup } from '../dedup/port';
import { replayClassOf } from './policy';
import { letterId, readDeadLetters, type DeadLetterEntry } from './read';
import { DeadLetterWriter } from './write';
import { openWarninglists } from '../../platform/warninglists';

export interface ReplayOptions {
  since?: string;
  until?: string;
  /** One letter, by its DLQ `partition:offset`: the only way to replay a letter a check refused. */
  letter?: string;
  /** With `letter`: replay it although a check refused it; freshness and dedup still run. */
  forceTrustFailure?: boolean;
}

export interface ReplayResult {
  delivered: number;
  deadLettered: number;
  skipped: number;
}

type Letter = { id: string; message: KafkaMessage; topic: string; partition: number };

/** What a replay calls: the record checks (dedup only for a letter forced past a check) and the delivery, as a subscription does. */
export interface ReplayDeps {
  checks: ClassifyDeps;
  delivery: BatchDeliveryDeps;
  deadLetters: DeadLetterWriter;
}

/**
 * The letters a replay sends (`selected`) and those it lists but leaves
 * (`held`: refused by a check, see policy.ts). A letter a replay handled
 * before is neither: it is never sent twice.
 */
export function selectLetters(
  entries: readonly DeadLetterEntry[],
  options: ReplayOptions,
): { selected: DeadLetterEntry[]; held: DeadLetterEntry[] } {
  if (options.letter === undefined) {
    if (options.forceTrustFailure) usage('--force-trust-failure names one letter: give it with --letter');
    const open = entries.filter(
      (e) =>
        !e.replayed && (!options.since || e.at >= options.since) && (!options.until || e.at <= options.until),
    );
    return {
      selected: open.filter((e) => replayClassOf(e.code) === 'delivery'),
      held: open.filter((e) => replayClassOf(e.code) === 'trust'),
    };
  }
  const letter = entries.find((e) => letterId(e) === options.letter);
  if (!letter) usage(`no dead letter ${options.letter} (give it as PARTITION:OFFSET, as dlq list shows)`);
  if (letter.replayed) usage(`dead letter ${options.letter} was replayed already`);
  if (replayClassOf(letter.code) === 'trust' && !options.forceTrustFailure) {
    usage(
      `dead letter ${options.letter} was refused by a check (${letter.code}), not by its receiver; ` +
        'replay it only if you know why it is safe, with --force-trust-failure (freshness and dedup still run)',
    );
  }
  return { selected: [letter], held: [] };
}

function usage(message: string): never {
  throw new ThreatRelayError('TR_USAGE', message);
}

/**
 * Runs dead letters through the pipeline again: verified, decoded, entitled,
 * filtered, and delivered in batches. A delivery failure bypasses freshness
 * and dedup (the receiver, not a check, refused it: the operator asks for it
 * again, however old); a letter forced past a trust failure (`checked`) goes
 * through both. What fails again goes back to the DLQ with its new reason,
 * so a replay loses nothing either. Each batch handled is then marked
 * (`mark`), so the next replay does not send it again.
 */
export async function replayLetters(
  deps: ReplayDeps,
  letters: Letter[],
  options: { checked: boolean; mark: (handled: readonly Letter[]) => Promise<void> },
): Promise<ReplayResult> {
  const batchSize = deps.checks.subscription.batchSize;
  const result = { delivered: 0, deadLettered: 0, skipped: 0 };
  for (let i = 0; i < letters.length; i += batchSize) {
    const batch = letters.slice(i, i + batchSize);
    await replayBatch(deps, batch, options.checked, result);
    await options.mark(batch);
  }
  return result;
}

async function replayBatch(
  deps: ReplayDeps,
  letters: readonly Letter[],
  checked: boolean,
  result: ReplayResult,
): Promise<void> {
  const { deadLetters } = deps;
  const deliverable: (DeliveryItem & { topic: string; partition: number })[] = [];
  for (const letter of letters) {
    const c = await classify(deps.checks, letter.message, letter, { replay: !checked });
    if (c.kind === 'dead') {
      await deadLetters.write([
        {
          message: c.message,
          sourceTopic: letter.topic,
          sourcePartition: letter.partition,
          code: c.code,
          reason: c.reason,
        },
      ]);
      result.deadLettered += 1;
    } else if (c.kind === 'skip') result.skipped += 1;
    else deliverable.push({ ...c, topic: letter.topic, partition: letter.partition });
  }
  if (deliverable.length === 0) return;
  const noHeartbeat = async (): Promise<void> => undefined;
  const outcome = await deliverBatch(deps.delivery, deliverable, deliverable[0]!, noHeartbeat);
  if (outcome.kind === 'halted') {
    throw new ThreatRelayError('TR_DELIVERY_GONE', 'the webhook endpoint answered 410 Gone during replay');
  }
  if (outcome.kind === 'delivered') result.delivered += deliverable.length;
  else {
    // Outside any consumer group: no offsets to commit with them, a plain write.
    await deadLetters.write(outcome.letters);
    result.deadLettered += deliverable.length;
  }
}

/** What a replay did: how many letters it sent, and how many it listed but left (refused by a check). */
export type ReplaySummary = { selected: number; held: number } & ReplayResult;

/**
 * `threatrelay dlq replay`: the delivery failures written within [since,
 * until] delivered again, or the one `letter` asked for. Letters a check
 * refused are counted in `held` and left (see policy.ts).
 */
export async function replayDeadLetters(
  config: Config,
  subscriptionId: string,
  options: ReplayOptions & { dataDir?: string },
  logger: Logger,
): Promise<ReplaySummary> {
  const subscription = config.subscriptions.find((s) => s.id === subscriptionId);
  if (!subscription)
    throw new ThreatRelayError('TR_CONFIG', `no subscription "${subscriptionId}" in the config`);
  const org = orgById(config, subscription.org)!;
  const { selected, held } = selectLetters(await readDeadLetters(config, subscriptionId, logger), options);
  const checked = options.letter !== undefined && options.forceTrustFailure === true;
  const topics = kafkaNames(config.kafka.topicPrefix);
  const kafka = createKafka(config.kafka, logger, 'threatrelay-dlq-replay');
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  // A letter forced past a check goes through the subscription's own dedup store, as the live path does.
  const dedup = checked
    ? openDedup(
        config,
        subscription,
        options.dataDir ?? process.env.THREATRELAY_DATA_DIR ?? join(process.cwd(), 'data'),
      )
    : undefined;
  try {
    const metrics = createSubscriberMetrics(`${org.id}-replay`);
    const log = logger.child({ subscription: subscriptionId });
    const dlqTopic = topics.dlq(subscriptionId);
    const deadLetters = new DeadLetterWriter(producer, dlqTopic, subscriptionId, metrics, log);
    // A 410 during a replay stops it (replayLetters throws); the switch is the subscriber's to record.
    let gone = false;
    const deps: ReplayDeps = {
      checks: {
        subscription,
        org,
        codec: loadEventCodec(),
        freshness: freshnessFor(config.subscriber, subscription),
        orgKeys: orgPublicKeys(config.orgs),
        pdqFloors: new Map(config.orgs.map((o) => [o.id, o.pdq.minQuality])),
        metrics,
        warninglists: openWarninglists(config.warninglists.dir),
        ...(dedup ? { dedup: dedup.port } : {}),
      },
      delivery: {
        subscription,
        metrics,
        log,
        retryPolicy: subscription.retry ?? DEFAULT_RETRY_POLICY,
        disable: async (reason) => {
          gone = true;
          log.error({ reason }, 'the webhook endpoint is gone; the replay stops');
        },
        halted: () => gone,
      },
      deadLetters,
    };
    const letters = selected.map((e) => ({
      id: letterId(e),
      message: e.message,
      topic: e.source.topic,
      partition: e.source.partition,
    }));
    const mark = (handled: readonly Letter[]): Promise<void> => markReplayed(producer, dlqTopic, handled);
    const result = await replayLetters(deps, letters, { checked, mark });
    if (held.length > 0) log.info({ held: held.length }, 'dead letters refused by a check were left');
    return { selected: selected.length, held: held.length, ...result };
  } finally {
    await dedup?.close();
    await producer.disconnect();
  }
}

/**
 * One mark per handled letter on the DLQ itself, as long-lived as the
 * letters: whoever reads the DLQ (the next replay, `dlq list`, the console)
 * sees which letters a replay has handled. Written after the batch was
 * delivered or dead-lettered again: a crash in between replays it once more,
 * which receivers recognise by eventId, never loses it.
 */
async function markReplayed(producer: Producer, topic: string, handled: readonly Letter[]): Promise<void> {
  if (handled.length === 0) return;
  const at = new Date().toISOString();
  await producer.send({
    topic,
    acks: -1,
    messages: handled.map((l) => ({
      key: `replayed:${l.id}`,
      value: null,
      headers: { [HEADERS.dlqReplayed]: l.id, [HEADERS.dlqAt]: at },
    })),
  });
}
