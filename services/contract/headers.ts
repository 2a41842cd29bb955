import type { KafkaMessage } from 'kafkajs';

/**
 * What a record carries under one header name. Kafka allows a header to be
 * absent, present with a null value (length -1: the Java client and
 * librdkafka write them, kafkajs reads them as `null`), present once, or
 * present several times; a reader must be able to tell them apart without
 * throwing, because any member can write any of them.
 */
export type HeaderRead =
  | { kind: 'absent' }
  | { kind: 'null' }
  | { kind: 'one'; bytes: Buffer }
  | { kind: 'repeated'; count: number };

export type HeaderValue = Buffer | string | null | undefined;

/** The one reader of record headers: never throws, whatever the record holds. */
export function readHeader(message: Pick<KafkaMessage, 'headers'>, name: string): HeaderRead {
  const headers = message.headers as Record<string, HeaderValue | HeaderValue[]> | null | undefined;
  if (headers === null || typeof headers !== 'object' || !Object.hasOwn(headers, name))
    return { kind: 'absent' };
  const v = headers[name];
  if (Array.isArray(v)) {
    if (v.length === 0) return { kind: 'absent' };
    if (v.length > 1) return { kind: 'repeated', count: v.length };
    return one(v[0]);
  }
  return one(v);
}

function one(v: unknown): HeaderRead {
  if (v === undefined) return { kind: 'absent' };
  if (v === null) return { kind: 'null' };
  if (Buffer.isBuffer(v)) return { kind: 'one', bytes: v };
  if (typeof v === 'string') return { kind: 'one', bytes: Buffer.from(v) };
  return { kind: 'null' };
}

/** A header's raw bytes; undefined when absent, null-valued or given more than once (which copy would be meant?). */
export function headerBytes(message: Pick<KafkaMessage, 'headers'>, name: string): Buffer | undefined {
  const read = readHeader(message, name);
  return read.kind === 'one' ? read.bytes : undefined;
}

/** A header's value as UTF-8 text, on the same terms as `headerBytes`. */
export function headerText(message: Pick<KafkaMessage, 'headers'>, name: string): string | undefined {
  return headerBytes(message, name)?.toString('utf8');
}
