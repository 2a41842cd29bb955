/**
 * CRC-64-AVRO, the Rabin fingerprint of the Avro specification ("Schema
 * Fingerprints"), and the Parsing Canonical Form it is computed over. avsc
 * only offers md5/sha fingerprints (avsc issue 327), and single-object
 * encoding needs this one, so it is implemented here from the specification
 * and checked against its published vectors and against fastavro.
 */
import { Type } from 'avsc';
import type { Schema } from 'avsc';

const MASK_64 = (1n << 64n) - 1n;

/** The fingerprint of the empty input, and the polynomial the table is built from. */
export const CRC64_AVRO_EMPTY = 0xc15d213aa4d7a795n;

const FP_TABLE: readonly bigint[] = (() => {
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) {
      // Java's `EMPTY & -(fp & 1L)`: all ones when the low bit is set.
      fp = (fp >> 1n) ^ (fp & 1n ? CRC64_AVRO_EMPTY : 0n);
    }
    table.push(fp);
  }
  return table;
})();

/**
 * The fingerprint as an unsigned 64-bit integer. BigInt is slow, which is fine:
 * fingerprints are computed once per schema at load time, never per record.
 */
export function crc64AvroBigInt(data: Uint8Array | string): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fp = CRC64_AVRO_EMPTY;
  for (let i = 0; i < bytes.length; i++) {
    fp = (fp >> 8n) ^ FP_TABLE[Number((fp ^ BigInt(bytes[i])) & 0xffn)];
  }
  return fp & MASK_64;
}

/** The 8 fingerprint bytes little-endian, as single-object encoding writes them. */
export function crc64Avro(data: Uint8Array | string): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(crc64AvroBigInt(data));
  return out;
}

/**
 * The Parsing Canonical Form of a schema (Avro specification, "Transforming
 * into Parsing Canonical Form").
 *
 * avsc's `type.schema()` (alias `getSchema()`) without `exportAttrs` is that
 * form for every schema avsc accepts: it resolves names to full names
 * (FULLNAMES), drops namespace, doc, aliases, defaults, order and logicalType
 * (STRIP; a logical type exports its underlying type), writes a primitive
 * as its bare name (PRIMITIVES), emits keys in the specified order name, type,
 * fields, symbols, items, values, size (ORDER), and `JSON.stringify` adds no
 * whitespace and writes integers without leading zeros (WHITESPACE,
 * INTEGERS). STRINGS only differs for escaped characters, which Avro names and
 * symbols cannot contain. The unit tests hold this to the specification's
 * canonical forms and to fastavro's `to_parsing_canonical_form`, so an avsc
 * upgrade that changes it fails loudly instead of changing fingerprints.
 */
export function parsingCanonicalForm(schema: Schema): string {
  const type = schema instanceof Type ? schema : Type.forSchema(schema, { wrapUnions: true });
  return JSON.stringify(type.schema());
}

/** CRC-64-AVRO of a schema's Parsing Canonical Form, little-endian. */
export function schemaFingerprint(schema: Schema): Buffer {
  return crc64Avro(parsingCanonicalForm(schema));
}
