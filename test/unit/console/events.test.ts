import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../../../services/contract/avro/codec';
import { HEADERS } from '../../../services/contract/definitions';
import { kafkaNames } from '../../../services/contract/names';
import { describeRecord } from '../../../services/console/events';

/** The console lists what it cannot verify; nothing a member writes may make it throw. */
const names = kafkaNames('threatrelay');
const codec = loadEventCodec();
const record = (headers: unknown, timestamp: string): KafkaMessage =>
  ({
    key: null,
    value: Buffer.from('not a record'),
    headers,
    timestamp,
    offset: '7',
    attributes: 0,
    size: 0,
  }) as unknown as KafkaMessage;

describe('describeRecord', () => {
  it('lists a record with a timestamp no Date can hold as unreadable, without a time', () => {
    const e = describeRecord(
      record({}, '9223372036854775807'),
      names.community('clear'),
      names,
      codec,
      new Map(),
    );
    expect(e).toMatchObject({ kind: 'unreadable', verified: false, producedAt: '' });
  });

  it('lists a record whose headers are null as unreadable', () => {
    const e = describeRecord(
      record({ [HEADERS.sourceOrg]: null, [HEADERS.batchSignature]: null, [HEADERS.eventId]: null }, '0'),
      names.community('clear'),
      names,
      codec,
      new Map(),
    );
    expect(e).toMatchObject({
      kind: 'unreadable',
      sourceOrg: '(none)',
      eventId: `${names.community('clear')}@7`,
    });
  });
});
