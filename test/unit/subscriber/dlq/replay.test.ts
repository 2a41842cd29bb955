import type { KafkaMessage } from 'kafkajs';
import type { ThreatRelayError } from '../../../../services/contract/errors';
import type { DeadLetterEntry } from '../../../../services/subscriber/dlq/read';
import { selectLetters } from '../../../../services/subscriber/dlq/replay';

/** Which letters a replay sends, holds or refuses: the replay rules on their own. */
let next = 0;
function letter(code: string, fields: Partial<DeadLetterEntry> = {}): DeadLetterEntry {
  const offset = String(next++);
  return {
    partition: 0,
    offset,
    at: '2026-12-01T00:00:00.000Z',
    code,
    reason: 'why',
    source: { topic: 'threatrelay.community.clear', partition: 0, offset },
    eventId: undefined,
    message: {} as KafkaMessage,
    replayed: false,
    ...fields,
  };
}
const refusal = (fn: () => unknown): ThreatRelayError => {
  try {
    fn();
  } catch (err) {
    return err as ThreatRelayError;
  }
  throw new Error('expected a refusal');
};

describe('replay selection', () => {
  const rejected = letter('TR_DELIVERY_REJECTED');
  const retryable = letter('TR_DELIVERY_RETRYABLE');
  const gone = letter('TR_DELIVERY_GONE');
  const stale = letter('TR_STALE');
  const forged = letter('TR_SIGNATURE_INVALID');
  const outOfBounds = letter('TR_RECORD_OUT_OF_BOUNDS');
  const all = [rejected, retryable, gone, stale, forged, outOfBounds];

  it('sends delivery failures and holds what a check refused', () => {
    expect(selectLetters(all, {})).toEqual({
      selected: [rejected, retryable, gone],
      held: [stale, forged, outOfBounds],
    });
  });

  it('holds a code it does not know', () => {
    expect(selectLetters([letter('TR_SOMETHING_NEW')], {}).held).toHaveLength(1);
  });

  it('never sends a letter a replay handled before', () => {
    const handled = letter('TR_DELIVERY_REJECTED', { replayed: true });
    expect(selectLetters([handled, rejected], {}).selected).toEqual([rejected]);
    expect(refusal(() => selectLetters([handled], { letter: `0:${handled.offset}` })).code).toBe('TR_USAGE');
  });

  it('keeps to the time window', () => {
    const late = letter('TR_DELIVERY_REJECTED', { at: '2026-12-05T00:00:00.000Z' });
    expect(selectLetters([rejected, late], { since: '2026-12-02T00:00:00Z' }).selected).toEqual([late]);
  });

  it('refuses one letter a check refused unless the operator forces it', () => {
    const err = refusal(() => selectLetters(all, { letter: `0:${stale.offset}` }));
    expect(err.code).toBe('TR_USAGE');
    expect(err.message).toMatch(/TR_STALE.*--force-trust-failure/);
    expect(selectLetters(all, { letter: `0:${stale.offset}`, forceTrustFailure: true })).toEqual({
      selected: [stale],
      held: [],
    });
  });

  it('forces no letter without naming it', () => {
    expect(refusal(() => selectLetters(all, { forceTrustFailure: true })).code).toBe('TR_USAGE');
  });

  it('names a letter that does not exist', () => {
    expect(refusal(() => selectLetters(all, { letter: '9:9' })).message).toMatch(/no dead letter 9:9/);
  });
});
