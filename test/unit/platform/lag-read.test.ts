import type { FetchedRecord } from '../../../services/platform/kafka';
import { countWaiting } from '../../../services/platform/lag-read';

/** Records as kafkajs's fetch decodes them: offset, producer, transactional or not, marker or not. */
const record = (
  offset: number,
  producerId: string,
  opts: { tx?: boolean; marker?: boolean } = {},
): FetchedRecord => ({
  offset: String(offset),
  timestamp: String(1_000 + offset),
  key: null,
  value: opts.marker ? null : Buffer.from('v'),
  isControlRecord: opts.marker ?? false,
  batchContext: { producerId, inTransaction: opts.tx ?? opts.marker ?? false },
});

describe('counting the records a read_committed consumer is handed', () => {
  it('does not count transaction markers', () => {
    const messages = [
      record(0, '7', { tx: true }),
      record(1, '7', { tx: true }),
      record(2, '7', { marker: true }),
    ];
    expect(countWaiting({ abortedTransactions: [], messages }, 0n, 3n)).toEqual({
      counted: 2,
      readTo: '3',
      oldestAt: 1000,
    });
  });

  it('reads 0 from a position on a commit marker', () => {
    const messages = [record(4, '7', { tx: true }), record(5, '7', { marker: true })];
    expect(countWaiting({ abortedTransactions: [], messages }, 5n, 6n)).toEqual({
      counted: 0,
      readTo: '6',
      oldestAt: undefined,
    });
  });

  it("does not count an aborted transaction's records, and counts another producer's beside them", () => {
    const messages = [
      record(0, '7', { tx: true }),
      record(1, '8', { tx: true }),
      record(2, '7', { marker: true }),
      record(3, '8', { marker: true }),
      record(4, '7', { tx: true }),
      record(5, '7', { marker: true }),
    ];
    const aborted = [{ producerId: '7', firstOffset: '0' }];
    expect(countWaiting({ abortedTransactions: aborted, messages }, 0n, 6n).counted).toBe(2);
  });

  it('skips records of a batch that began before the position', () => {
    const messages = [record(0, '1'), record(1, '1'), record(2, '1')];
    expect(countWaiting({ abortedTransactions: null, messages }, 2n, 3n)).toEqual({
      counted: 1,
      readTo: '3',
      oldestAt: 1002,
    });
  });

  it('stops at the last stable offset', () => {
    const messages = [record(0, '1'), record(1, '1'), record(2, '1')];
    expect(countWaiting({ abortedTransactions: null, messages }, 0n, 2n).counted).toBe(2);
  });

  it('says how far it read when the fetch stopped short', () => {
    const messages = [record(0, '1'), record(1, '1')];
    expect(countWaiting({ abortedTransactions: null, messages }, 0n, 50n).readTo).toBe('2');
  });
});
