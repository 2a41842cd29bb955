import type { KafkaMessage } from 'kafkajs';
import {
  headerBytes,
  headerText,
  readHeader,
  recordTime,
  writableHeaders,
} from '../../../services/platform/kafka';

/** Headers as kafkajs hands them over, including the shapes it never writes itself. */
const msg = (headers: unknown, timestamp = '0'): KafkaMessage =>
  ({
    headers,
    timestamp,
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

describe('writableHeaders', () => {
  it('leaves null values out and names them', () => {
    const { headers, nulls } = writableHeaders(
      msg({ a: null, b: Buffer.from('x'), c: [null, 'y'], d: [null] }),
    );
    expect(headers).toEqual({ b: Buffer.from('x'), c: 'y' });
    expect(nulls.sort()).toEqual(['a', 'c', 'd']);
  });
});

describe('recordTime', () => {
  it('is undefined for a timestamp no Date can hold', () => {
    expect(recordTime(msg({}, '9223372036854775807'))).toBeUndefined();
    expect(recordTime(msg({}, 'not a number'))).toBeUndefined();
    expect(recordTime(msg({}, '0'))).toBe('1970-01-01T00:00:00.000Z');
  });
});
