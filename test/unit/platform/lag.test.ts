import {
  behindOf,
  commitMetadata,
  deliveredAtOf,
  positionOf,
  ProgressWatch,
  summarize,
  type PartitionReading,
} from '../../../services/platform/lag';

/** A partition read at one moment; by default a group caught up to a commit marker (offset 9). */
const reading = (over: Partial<PartitionReading> = {}): PartitionReading => ({
  topic: 't',
  partition: 0,
  committed: '9',
  low: '0',
  lastStable: '10',
  high: '10',
  waiting: { counted: 0, readTo: '10', oldestAt: undefined },
  ...over,
});

const T0 = Date.parse('2026-12-08T00:00:00Z');
const settings = { stalledAfterMs: 60_000, hangingAfterMs: 40_000 };

describe('behind', () => {
  it('is 0 for a group committed past its last record with a transaction marker after it', () => {
    expect(behindOf(reading())).toBe(0);
  });

  it('counts the records read between the position and the last stable offset, not their offsets', () => {
    expect(behindOf(reading({ committed: '0', waiting: { counted: 7, readTo: '10', oldestAt: T0 } }))).toBe(
      7,
    );
  });

  it('counts one record per offset past what was read', () => {
    const r = reading({
      committed: '0',
      lastStable: '100',
      waiting: { counted: 7, readTo: '10', oldestAt: T0 },
    });
    expect(behindOf(r)).toBe(97);
  });

  it('does not count records past the last stable offset (an open transaction)', () => {
    expect(behindOf(reading({ lastStable: '10', high: '25' }))).toBe(0);
  });

  it('starts a group without a commit at the first offset the partition holds', () => {
    const r = reading({
      committed: undefined,
      low: '4',
      waiting: { counted: 5, readTo: '10', oldestAt: T0 },
    });
    expect(positionOf(r)).toBe(4n);
    expect(behindOf(r)).toBe(5);
  });

  it('moves a commit below the first offset still held up to it', () => {
    expect(positionOf(reading({ committed: '2', low: '6' }))).toBe(6n);
  });
});

describe('a watched partition', () => {
  it('is not stalled while caught up, however long', () => {
    const watch = new ProgressWatch(settings);
    watch.update([reading()], T0);
    const [s] = watch.update([reading()], T0 + 3_600_000);
    expect(s!.stalledSince).toBeUndefined();
  });

  it('is stalled once records wait with the position unmoved for the threshold, since they began to wait', () => {
    const watch = new ProgressWatch(settings);
    watch.update([reading()], T0);
    const waiting = reading({
      lastStable: '15',
      high: '15',
      waiting: { counted: 4, readTo: '15', oldestAt: T0 },
    });
    watch.update([waiting], T0 + 1000);
    expect(watch.update([waiting], T0 + 60_000)[0]!.stalledSince).toBeUndefined();
    expect(watch.update([waiting], T0 + 61_000)[0]!.stalledSince).toBe(new Date(T0 + 1000).toISOString());
  });

  it('is not stalled while the position moves, even with records always waiting', () => {
    const watch = new ProgressWatch(settings);
    for (let i = 0; i < 10; i += 1) {
      const r = reading({
        committed: String(i),
        lastStable: '100',
        high: '100',
        waiting: { counted: 100 - i, readTo: '100', oldestAt: T0 },
      });
      expect(watch.update([r], T0 + i * 30_000)[0]!.stalledSince).toBeUndefined();
    }
  });

  it('reports a transaction open at one offset longer than the threshold as hanging', () => {
    const watch = new ProgressWatch(settings);
    const open = reading({ lastStable: '10', high: '12' });
    watch.update([open], T0);
    expect(watch.update([open], T0 + 39_000)[0]!.hanging).toBeUndefined();
    expect(watch.update([open], T0 + 40_000)[0]!.hanging).toEqual({
      startOffset: '10',
      since: new Date(T0).toISOString(),
    });
  });

  it('does not call one transaction after another hanging when the last stable offset moves', () => {
    const watch = new ProgressWatch(settings);
    watch.update([reading({ lastStable: '10', high: '12' })], T0);
    const [s] = watch.update([reading({ lastStable: '13', high: '15' })], T0 + 50_000);
    expect(s!.hanging).toBeUndefined();
  });

  it('gives the oldest waiting record its age, never less than 0', () => {
    const watch = new ProgressWatch(settings);
    const old = reading({ committed: '5', waiting: { counted: 4, readTo: '10', oldestAt: T0 - 90_000 } });
    expect(watch.update([old], T0)[0]!.oldestWaitingSeconds).toBe(90);
    const ahead = reading({ committed: '5', waiting: { counted: 4, readTo: '10', oldestAt: T0 + 90_000 } });
    expect(watch.update([ahead], T0)[0]!.oldestWaitingSeconds).toBe(0);
  });

  it('dates the last commit from when it was seen to move', () => {
    const watch = new ProgressWatch(settings);
    expect(watch.update([reading({ committed: '9' })], T0)[0]!.lastCommitAt).toBeUndefined();
    expect(watch.update([reading({ committed: '10' })], T0 + 5000)[0]!.lastCommitAt).toBe(
      new Date(T0 + 5000).toISOString(),
    );
  });
});

describe('summary', () => {
  it('adds behind, takes the oldest age, the earliest stall and the latest delivery', () => {
    const base = {
      topic: 't',
      position: '0',
      end: '0',
      high: '0',
      hanging: undefined,
      lastCommitAt: undefined,
    };
    const summary = summarize([
      {
        ...base,
        partition: 0,
        behind: 2,
        oldestWaitingSeconds: 5,
        stalledSince: '2026-12-08T00:01:00.000Z',
        lastDeliveryAt: '2026-12-08T00:00:01.000Z',
      },
      {
        ...base,
        partition: 1,
        behind: 3,
        oldestWaitingSeconds: 9,
        stalledSince: '2026-12-08T00:00:30.000Z',
        lastDeliveryAt: '2026-12-08T00:00:02.000Z',
      },
      {
        ...base,
        partition: 2,
        behind: 0,
        oldestWaitingSeconds: 0,
        stalledSince: undefined,
        lastDeliveryAt: undefined,
      },
    ]);
    expect(summary).toEqual({
      behind: 5,
      oldestWaitingSeconds: 9,
      stalledSince: '2026-12-08T00:00:30.000Z',
      stalledPartitions: 2,
      hangingPartitions: 0,
      lastCommitAt: undefined,
      lastDeliveryAt: '2026-12-08T00:00:02.000Z',
    });
  });
});

describe('commit metadata', () => {
  it('carries the last delivery time and reads it back', () => {
    expect(deliveredAtOf(commitMetadata(T0))).toBe(new Date(T0).toISOString());
  });

  it.each([null, '', 'not json', '{"deliveredAt":5}', '{"deliveredAt":"yesterday"}', 'null'])(
    'reads no delivery time from %p',
    (text) => {
      expect(deliveredAtOf(text)).toBeUndefined();
    },
  );
});
