import type { KafkaMessage } from 'kafkajs';
import { headerBytes, headerText, readHeader } from '../../../services/contract/headers';

/** Headers as kafkajs hands them over, including the shapes it never writes itself. */
const msg = (headers: unknown): KafkaMessage =>
  ({
    headers,
    timestamp: '0',
    offset: '0',
    key: null,
    value: null,
    attributes: 0,
    size: 0,
  }) as unknown as KafkaMessage;

describe('readHeader', () => {
  it('tells an absent header from a null-valued one', () => {
    expect(readHeader(msg({}), 'h')).toEqual({ kind: 'absent' });
    expect(readHeader(msg(undefined), 'h')).toEqual({ kind: 'absent' });
    expect(readHeader(msg({ h: null }), 'h')).toEqual({ kind: 'null' });
  });

  it('reads one value, binary or text, as bytes', () => {
    expect(readHeader(msg({ h: Buffer.from([0xff, 0]) }), 'h')).toEqual({
      kind: 'one',
      bytes: Buffer.from([0xff, 0]),
    });
    expect(readHeader(msg({ h: ['x'] }), 'h')).toEqual({ kind: 'one', bytes: Buffer.from('x') });
  });

  it('counts a repeated header, nulls included', () => {
    expect(readHeader(msg({ h: [Buffer.from('a'), null] }), 'h')).toEqual({ kind: 'repeated', count: 2 });
  });

  it('does not read a name inherited from Object.prototype as a header', () => {
    expect(readHeader(msg({}), 'constructor')).toEqual({ kind: 'absent' });
  });

  it('gives no bytes or text for a null, repeated or absent header', () => {
    for (const headers of [{ h: null }, { h: ['a', 'b'] }, {}, { h: [null] }]) {
      expect(headerBytes(msg(headers), 'h')).toBeUndefined();
      expect(headerText(msg(headers), 'h')).toBeUndefined();
    }
  });
});
