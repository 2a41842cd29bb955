import type { KafkaMessage } from 'kafkajs';
import type { ThreatEvent } from '../../../../services/contract/model';
import type { BatchOutcome } from '../../../../services/subscriber/delivery/batch';
import type { DeadLetter, SourceCommit } from '../../../../services/subscriber/dlq/write';
import type { Classified, Deliverable } from '../../../../services/subscriber/pipeline/classify';
import { BatchWalk, type WalkDeps, type WalkPayload } from '../../../../services/subscriber/pipeline/walk';

/**
 * The walk's decisions on one partition batch: which records go out together,
 * where dead letters go, and how far the group's offset moves. The checks,
 * the endpoint and the dead-letter transaction are fakes that record what
 * they were asked; the broker and the endpoint are exercised for real by
 * test/integration/subscriber*.test.ts and dead-letter*.test.ts.
 */

const message = (offset: number): KafkaMessage =>
  ({
    offset: String(offset),
    key: null,
    value: null,
    timestamp: '0',
    attributes: 0,
    size: 0,
  }) as KafkaMessage;

const event = { eventId: 'e', source: { org: 'o', submitter: 's' } } as unknown as ThreatEvent;
const deliver = (offset: number, batch?: { webhookId: string; size: number }): Classified => ({
  kind: 'deliver',
  message: message(offset),
  event,
  as: 'indicator.published',
  ...(batch ? { batch } : {}),
});
const skip = (offset: number): Classified => ({ kind: 'skip', message: message(offset) });
const dead = (offset: number): Classified => ({
  kind: 'dead',
  message: message(offset),
  code: 'TR_SIGNATURE_INVALID',
  reason: 'bad',
});

interface Run {
  /** Offsets of each webhook batch sent. */
  sent: string[][];
  /** Offsets of each dead-letter transaction, and where it committed the group to. */
  letters: { offsets: string[]; commit: string }[];
  /** Every offset the group was committed to outside a dead-letter transaction. */
  commits: string[];
  /** The metadata of every commit, in or outside a dead-letter transaction, in order. */
  metadata: (string | null | undefined)[];
}

async function walk(
  records: Classified[],
  options: { batchSize?: number; outcomes?: BatchOutcome['kind'][]; outage?: boolean } = {},
): Promise<Run> {
  const run: Run = { sent: [], letters: [], commits: [], metadata: [] };
  let accepted = 0;
  const outcomes = [...(options.outcomes ?? [])];
  const deps: WalkDeps = {
    groupId: 'g',
    batchSize: options.batchSize ?? 2,
    classifyChunk: async (chunk) =>
      options.outage ? undefined : chunk.map((m) => records.find((r) => r.message.offset === m.offset)!),
    deliver: async (items: Deliverable[]) => {
      run.sent.push(items.map((i) => i.message.offset));
      const kind = outcomes.shift() ?? 'delivered';
      if (kind === 'dead-lettered') {
        const letters: DeadLetter[] = items.map((i) => ({
          message: i.message,
          sourceTopic: 't',
          sourcePartition: 0,
          code: 'TR_DELIVERY_REJECTED',
          reason: 'refused',
        }));
        return { kind, letters };
      }
      return { kind } as BatchOutcome;
    },
    deadLetters: {
      writeAndCommit: async (
        letters: DeadLetter[],
        commit: SourceCommit,
        ownershipCheck?: () => Promise<void>,
      ) => {
        await ownershipCheck?.();
        run.letters.push({ offsets: letters.map((l) => l.message.offset), commit: commit.offset });
        run.metadata.push(commit.metadata);
      },
    },
    onDelivered: (_position, _seconds, wasAccepted) => {
      if (wasAccepted) accepted += 1;
    },
    commitMetadata: () => (accepted > 0 ? `accepted ${accepted}` : null),
    disabled: () => false,
  };
  const payload: WalkPayload = {
    batch: { topic: 't', partition: 0, messages: records.map((r) => r.message) },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    commitOffsetsIfNecessary: async (offsets) => {
      const committed = offsets!.topics[0]!.partitions[0]! as { offset: string; metadata?: string | null };
      run.commits.push(committed.offset);
      run.metadata.push(committed.metadata);
    },
    isRunning: () => true,
    isStale: () => false,
  };
  await new BatchWalk(deps, payload).run();
  return run;
}

describe('BatchWalk', () => {
  it('sends deliverable records in webhook batches of the batch size, in offset order', async () => {
    const run = await walk([0, 1, 2, 3, 4].map((o) => deliver(o)));
    expect(run.sent).toEqual([['0', '1'], ['2', '3'], ['4']]);
  });

  it('commits the group past the last record once the batch is walked', async () => {
    const run = await walk([deliver(0), skip(1), deliver(2)]);
    expect(run.commits.at(-1)).toBe('3');
  });

  it('moves past skipped records without sending anything', async () => {
    const run = await walk([skip(0), skip(1)]);
    expect(run.sent).toEqual([]);
    expect(run.commits.at(-1)).toBe('2');
  });

  it('sends what came before a dead record before dead-lettering it', async () => {
    const run = await walk([deliver(0), dead(1), deliver(2)], { batchSize: 10 });
    expect(run.sent).toEqual([['0'], ['2']]);
    expect(run.letters).toEqual([{ offsets: ['1'], commit: '2' }]);
  });

  it('writes consecutive dead records in one dead-letter transaction with the commit past them', async () => {
    const run = await walk([dead(0), dead(1), dead(2), deliver(3)]);
    expect(run.letters).toEqual([{ offsets: ['0', '1', '2'], commit: '3' }]);
  });

  it('re-checks ownership inside a dead-letter transaction by committing where the group stands', async () => {
    const run = await walk([dead(0), dead(1)]);
    expect(run.commits).toEqual(['0']);
  });

  it('dead-letters a webhook batch the endpoint refused for good, with the commit past it', async () => {
    const run = await walk([deliver(0), deliver(1), deliver(2)], { outcomes: ['dead-lettered'] });
    expect(run.letters).toEqual([{ offsets: ['0', '1'], commit: '2' }]);
    expect(run.sent).toEqual([['0', '1'], ['2']]);
  });

  it('commits nothing past a batch whose delivery halted', async () => {
    const run = await walk([deliver(0), deliver(1), deliver(2), deliver(3)], {
      outcomes: ['delivered', 'halted'],
    });
    expect(run.sent).toEqual([
      ['0', '1'],
      ['2', '3'],
    ]);
    expect(run.commits).toEqual(['2']);
  });

  it('sends a record read again in exactly the webhook batch it was first handed to', async () => {
    const first = { webhookId: 'w1', size: 3 };
    const run = await walk([deliver(0, first), deliver(1, first), deliver(2, first), deliver(3)], {
      batchSize: 2,
    });
    expect(run.sent).toEqual([['0', '1', '2'], ['3']]);
  });

  it('closes a regrouped batch when a record of another batch comes', async () => {
    const run = await walk([
      deliver(0, { webhookId: 'w1', size: 3 }),
      deliver(1, { webhookId: 'w2', size: 1 }),
    ]);
    expect(run.sent).toEqual([['0'], ['1']]);
  });

  it('commits nothing when a dedup outage outlasts the consumer', async () => {
    const run = await walk([deliver(0), deliver(1)], { outage: true });
    expect(run).toEqual({ sent: [], letters: [], commits: [], metadata: [] });
  });

  it('commits with the metadata of the webhook batches the endpoint accepted', async () => {
    const run = await walk([deliver(0), deliver(1), deliver(2)]);
    expect(run.commits.at(-1)).toBe('3');
    expect(run.metadata.at(-1)).toBe('accepted 2');
  });

  it('does not count a webhook batch dead-lettered as delivered in the commit metadata', async () => {
    const run = await walk([deliver(0), deliver(1)], { outcomes: ['dead-lettered'] });
    expect(run.letters).toEqual([{ offsets: ['0', '1'], commit: '2' }]);
    expect(run.metadata).toEqual([null, null]);
  });
});
