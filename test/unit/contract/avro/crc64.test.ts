/**
 * Test vectors from the Apache Avro repository, share/test/data/schema-tests.txt
 * (commit 0ea74a36cebb2e5fbc37e599814a05c33cb7d424): input schema, its Parsing
 * Canonical Form and its CRC-64-AVRO fingerprint as a signed Java long, which
 * the Java implementation cross-checks against a direct implementation of the
 * algorithm. Not computed by the code under test.
 */
import {
  CRC64_AVRO_EMPTY,
  crc64Avro,
  crc64AvroBigInt,
  parsingCanonicalForm,
  schemaFingerprint,
} from '../../../../services/contract/avro/crc64';
import type { Schema } from 'avsc';

interface Vector {
  id: string;
  input: string;
  canonical: string;
  fingerprint: string;
}

const VECTORS: Vector[] = [
  { id: '000', input: '"null"', canonical: '"null"', fingerprint: '7195948357588979594' },
  { id: '002', input: '"boolean"', canonical: '"boolean"', fingerprint: '-6970731678124411036' },
  { id: '004', input: '"int"', canonical: '"int"', fingerprint: '8247732601305521295' },
  { id: '006', input: '"long"', canonical: '"long"', fingerprint: '-3434872931120570953' },
  { id: '008', input: '"float"', canonical: '"float"', fingerprint: '5583340709985441680' },
  { id: '010', input: '"double"', canonical: '"double"', fingerprint: '-8181574048448539266' },
  { id: '012', input: '"bytes"', canonical: '"bytes"', fingerprint: '5746618253357095269' },
  { id: '014', input: '"string"', canonical: '"string"', fingerprint: '-8142146995180207161' },
  { id: '016', input: '[  ]', canonical: '[]', fingerprint: '-1241056759729112623' },
  { id: '017', input: '[ "int"  ]', canonical: '["int"]', fingerprint: '-5232228896498058493' },
  {
    id: '018',
    input: '[ "int" , {"type":"boolean"} ]',
    canonical: '["int","boolean"]',
    fingerprint: '5392556393470105090',
  },
  {
    id: '019',
    input: '{"fields":[], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    id: '020',
    input: '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
    canonical: '{"name":"x.y.foo","type":"record","fields":[]}',
    fingerprint: '5916914534497305771',
  },
  {
    id: '021',
    input: '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}',
    canonical: '{"name":"a.b.foo","type":"record","fields":[]}',
    fingerprint: '-4616218487480524110',
  },
  {
    id: '022',
    input: '{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    id: '023',
    input: '{"fields":[], "type":"record", "name":"foo", "aliases":["foo","bar"]}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    id: '024',
    input: '{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    id: '025',
    input: '{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
    fingerprint: '7843277075252814651',
  },
  {
    id: '026',
    input:
      '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},' +
      ' {"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo" }',
    canonical:
      '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    fingerprint: '-4860222112080293046',
  },
  {
    id: '027',
    input: '{"type":"enum", "name":"foo", "symbols":["A1"]}',
    canonical: '{"name":"foo","type":"enum","symbols":["A1"]}',
    fingerprint: '-6342190197741309591',
  },
  {
    id: '028',
    input: '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
    canonical: '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
    fingerprint: '-4448647247586288245',
  },
  {
    id: '029',
    input: '{"name":"foo","type":"fixed","size":15}',
    canonical: '{"name":"foo","type":"fixed","size":15}',
    fingerprint: '1756455273707447556',
  },
  {
    id: '030',
    input: '{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}',
    canonical: '{"name":"x.y.z.foo","type":"fixed","size":32}',
    fingerprint: '-3064184465700546786',
  },
  {
    id: '031',
    input: '{ "items":{"type":"null"}, "type":"array"}',
    canonical: '{"type":"array","items":"null"}',
    fingerprint: '-589620603366471059',
  },
  {
    id: '032',
    input: '{ "values":"string", "type":"map"}',
    canonical: '{"type":"map","values":"string"}',
    fingerprint: '-8732877298790414990',
  },
  {
    id: '033',
    input:
      '{"name":"PigValue","type":"record", "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    canonical:
      '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    fingerprint: '-1759257747318642341',
  },
];

/**
 * Inputs avsc refuses to parse, so their canonical form cannot come from
 * avsc: an empty union (016) and a boolean field whose default is the string
 * "true" (026). Their fingerprints are still checked over the canonical text.
 */
const AVSC_REJECTS = new Set(['016', '026']);

/** The Java long as the 8 bytes single-object encoding puts in the header. */
function littleEndian(javaLong: string): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigInt64LE(BigInt(javaLong));
  return out;
}

describe('crc64Avro', () => {
  it('is EMPTY (0xc15d213aa4d7a795) for no input', () => {
    expect(crc64AvroBigInt(new Uint8Array(0))).toBe(CRC64_AVRO_EMPTY);
    expect(CRC64_AVRO_EMPTY).toBe(0xc15d213aa4d7a795n);
  });

  it.each(VECTORS.map((v) => [v.id, v.canonical, v.fingerprint]))(
    'matches the published fingerprint of vector %s (%s)',
    (_id, canonical, fingerprint) => {
      expect(crc64AvroBigInt(canonical)).toBe(BigInt.asUintN(64, BigInt(fingerprint)));
    },
  );

  it('returns the fingerprint as 8 little-endian bytes', () => {
    // 7195948357588979594 = 0x63dd24e7cc258f8a: the least significant byte comes first.
    expect(crc64Avro('"null"').toString('hex')).toBe('8a8f25cce724dd63');
  });

  it('hashes a string as its UTF-8 bytes', () => {
    const text = '{"name":"é","type":"enum","symbols":["A"]}';
    expect(crc64Avro(text)).toEqual(crc64Avro(Buffer.from(text, 'utf8')));
  });
});

describe('parsingCanonicalForm', () => {
  it.each(VECTORS.filter((v) => !AVSC_REJECTS.has(v.id)).map((v) => [v.id, v.input, v.canonical]))(
    'gives the specification canonical form of vector %s',
    (_id, input, canonical) => {
      expect(parsingCanonicalForm(JSON.parse(input))).toBe(canonical);
    },
  );

  it('strips logical types down to their underlying type', () => {
    const schema: Schema = {
      type: 'record',
      name: 'r',
      fields: [
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'id', type: { type: 'string', logicalType: 'uuid' } },
      ],
    };
    expect(parsingCanonicalForm(schema)).toBe(
      '{"name":"r","type":"record","fields":[{"name":"at","type":"long"},{"name":"id","type":"string"}]}',
    );
  });

  it('names a nested type by its full name, inheriting the enclosing namespace', () => {
    const schema: Schema = {
      type: 'record',
      name: 'r',
      namespace: 'a',
      fields: [{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['X'], default: 'X' } }],
    };
    expect(parsingCanonicalForm(schema)).toBe(
      '{"name":"a.r","type":"record","fields":[{"name":"e","type":{"name":"a.E","type":"enum","symbols":["X"]}}]}',
    );
  });
});

describe('schemaFingerprint', () => {
  it.each(VECTORS.filter((v) => !AVSC_REJECTS.has(v.id)).map((v) => [v.id, v.input, v.fingerprint]))(
    'fingerprints the canonical form of vector %s, not the text as written',
    (_id, input, fingerprint) => {
      expect(schemaFingerprint(JSON.parse(input))).toEqual(littleEndian(fingerprint));
    },
  );
});
