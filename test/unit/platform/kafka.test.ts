import type { KafkaMessage } from 'kafkajs';
import { recordTime, writableHeaders } from '../../../services/platform/kafka';

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
