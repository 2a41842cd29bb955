import type { KafkaMessage } from 'kafkajs';
import { deadLetterLine } from '../../../../services/cli/commands/dlq';
import type { DeadLetterEntry } from '../../../../services/subscriber/dlq/read';

function entry(fields: Partial<DeadLetterEntry>): DeadLetterEntry {
  return {
    partition: 1,
    offset: '0',
    at: '2025-01-01T00:00:00.000Z',
    code: 'TR_SIGNATURE_INVALID',
    reason: 'bad signature',
    source: { topic: 'threatrelay.indicators.green', partition: 2, offset: '41' },
    eventId: 'evt-1',
    message: {} as KafkaMessage,
    replayed: false,
    ...fields,
  };
}

describe('dlq list', () => {
  it('prints a dead letter on one line, with its id and what a replay does with it', () => {
    expect(deadLetterLine(entry({}))).toBe(
      '2025-01-01T00:00:00.000Z  1:0      held       TR_SIGNATURE_INVALID         threatrelay.indicators.green/2@41  event evt-1  bad signature',
    );
  });

  it('calls a delivery failure replayable, and a letter a replay handled replayed', () => {
    expect(deadLetterLine(entry({ code: 'TR_DELIVERY_REJECTED' }))).toContain(' replayable ');
    expect(deadLetterLine(entry({ code: 'TR_DELIVERY_REJECTED', replayed: true }))).toContain(' replayed ');
  });

  it('escapes terminal control sequences in every header it prints', () => {
    const esc = '\u001b]0;pwned\u0007\u001b[2J';
    const line = deadLetterLine(
      entry({
        at: `at${esc}`,
        code: `code${esc}`,
        reason: `reason\n${esc}`,
        source: { topic: `topic${esc}`, partition: 0, offset: `1${esc}` },
        eventId: `id\u009b${esc}`,
      }),
    );
    expect(
      [...line].filter((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f)),
    ).toEqual([]);
    expect(line).toContain('reason\\u000a\\u001b]0;pwned\\u0007\\u001b[2J');
  });
});
