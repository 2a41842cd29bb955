import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  defaultSchemasDir,
  loadEventCodec,
  SINGLE_OBJECT_HEADER_LENGTH,
} from '../../../../services/contract/avro/codec';
import { isoFromMillis, millisFromIso } from '../../../../services/contract/avro/timestamps';
import { crc64Avro } from '../../../../services/contract/avro/crc64';
import { isThreatRelayError } from '../../../../services/contract/errors';
import type { ErrorCode, ThreatRelayError } from '../../../../services/contract/errors';
import type { ThreatEvent } from '../../../../services/contract/model';
import {
  allEvents,
  publishedFull,
  publishedMinimal,
  revoked,
  asVersion,
  publishedPdq,
  sighting,
} from '../../../fixtures/threat-events';

const SCHEMAS = path.resolve(__dirname, '../../../../schemas');
const codec = loadEventCodec(SCHEMAS);

function thrown(fn: () => unknown): ThreatRelayError {
  try {
    fn();
  } catch (err) {
    if (isThreatRelayError(err)) return err;
    throw new Error(`expected a ThreatRelayError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a throw');
}

function expectCode(fn: () => unknown, code: ErrorCode, message: RegExp): ThreatRelayError {
  const err = thrown(fn);
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
  return err;
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threatrelay-schemas-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('loadEventCodec', () => {
  it('loads every version in schemas/, oldest first, the newest last', () => {
    expect(codec.versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    expect(codec.newest.version).toBe(4);
  });

  it('finds schemas/ above the module when no directory is given', () => {
    expect(defaultSchemasDir({})).toBe(SCHEMAS);
  });

  it('takes the schema directory from THREATRELAY_SCHEMAS_DIR', () => {
    expect(defaultSchemasDir({ THREATRELAY_SCHEMAS_DIR: 'some/dir' })).toBe(path.resolve('some/dir'));
  });

  it('refuses a directory without schema files', () => {
    expectCode(() => loadEventCodec(tempDir()), 'TR_CONFIG', /no threat-event\.vN\.avsc/);
  });

  it('refuses a gap between versions, which would strand records of the missing one', () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(SCHEMAS, 'threat-event.v2.avsc'), path.join(dir, 'threat-event.v2.avsc'));
    expectCode(() => loadEventCodec(dir), 'TR_CONFIG', /no threat-event\.v1\.avsc/);
  });

  it('refuses a schema with an array whose items can be zero bytes, which it could not bound', () => {
    const dir = tempDir();
    const schema = {
      type: 'record',
      name: 'E',
      fields: [{ name: 'xs', type: { type: 'array', items: 'null' } }],
    };
    fs.writeFileSync(path.join(dir, 'threat-event.v1.avsc'), JSON.stringify(schema));
    expectCode(() => loadEventCodec(dir), 'TR_CONFIG', /items can encode to zero bytes/);
  });
});

describe('round trip', () => {
  it.each(Object.entries(allEvents))('decodes %s to the event it encoded', (_name, event) => {
    expect(codec.decode(codec.encode(event))).toStrictEqual(event);
  });

  it('writes schemaVersion as the version it encodes with', () => {
    const event: ThreatEvent = { ...publishedMinimal, schemaVersion: 1 };
    expect(codec.decode(codec.encode(event)).schemaVersion).toBe(4);
  });

  it('normalizes a timestamp without milliseconds to the model form', () => {
    const event: ThreatEvent = { ...revoked, producedAt: '2025-03-15T08:00:00Z' };
    expect(codec.decode(codec.encode(event)).producedAt).toBe('2025-03-15T08:00:00.000Z');
  });
});

describe('single-object header', () => {
  it('starts with c3 01 and the CRC-64-AVRO fingerprint of the newest schema', () => {
    const bytes = codec.encode(publishedFull);
    expect(bytes.subarray(0, 2).toString('hex')).toBe('c301');
    expect(bytes.subarray(2, SINGLE_OBJECT_HEADER_LENGTH)).toEqual(
      crc64Avro(codec.newest.parsingCanonicalForm),
    );
    // Pinned: v3 is published, so its fingerprint can never change (fastavro agrees, see codec.oracle.test.ts).
    expect(bytes.subarray(2, SINGLE_OBJECT_HEADER_LENGTH).toString('hex')).toBe('bb4fa11ff03438d1');
  });

  it('carries the fingerprint of the older schema it was asked to write with', () => {
    const bytes = codec.encode(publishedFull, { version: 1 });
    expect(bytes.subarray(0, SINGLE_OBJECT_HEADER_LENGTH).toString('hex')).toBe('c301ed602bf8643fc300');
  });
});

describe('decode errors', () => {
  const good = codec.encode(publishedFull);

  it('rejects bytes that do not start with c3 01', () => {
    const json = Buffer.from(JSON.stringify(publishedFull));
    expectCode(
      () => codec.decode(json),
      'TR_CODEC_MALFORMED',
      /not Avro single-object encoded: starts with 7b22/,
    );
  });

  it('rejects an empty record', () => {
    expectCode(() => codec.decode(Buffer.alloc(0)), 'TR_CODEC_MALFORMED', /starts with nothing/);
  });

  it('rejects a record shorter than the 10-byte header', () => {
    expectCode(
      () => codec.decode(good.subarray(0, 6)),
      'TR_CODEC_MALFORMED',
      /6 bytes, shorter than the 10-byte single-object header/,
    );
  });

  it('rejects a truncated body', () => {
    expectCode(
      () => codec.decode(good.subarray(0, good.length - 1)),
      'TR_CODEC_MALFORMED',
      /body is truncated/,
    );
  });

  it('rejects a header with no body', () => {
    expectCode(
      () => codec.decode(good.subarray(0, SINGLE_OBJECT_HEADER_LENGTH)),
      'TR_CODEC_MALFORMED',
      /truncated/,
    );
  });

  it('rejects trailing bytes after the record', () => {
    const padded = Buffer.concat([good, Buffer.from([0, 0, 0])]);
    expectCode(() => codec.decode(padded), 'TR_CODEC_MALFORMED', /^3 trailing bytes after the v4 record/);
  });

  it('rejects an unknown fingerprint, naming it in hex', () => {
    const other = Buffer.from(good);
    other.write('0102030405060708', 2, 'hex');
    const err = expectCode(() => codec.decode(other), 'TR_CODEC_UNKNOWN_FINGERPRINT', /0102030405060708/);
    expect(err.canRetry).toBe(false);
  });

  it('rejects an array claiming more items than the record has bytes, without allocating them', () => {
    // A revocation whose recipients count is 2^31 (zigzag varint 80 80 80 80 10):
    // avsc alone would try to build that array and exhaust the heap.
    const body = Buffer.from([0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10]);
    const bytes = Buffer.concat([good.subarray(0, SINGLE_OBJECT_HEADER_LENGTH), body]);
    expectCode(() => codec.decode(bytes), 'TR_CODEC_MALFORMED', /body is truncated/);
  });

  it('rejects an oversized array count in a v1 record read through the resolver', () => {
    const v1 = codec.encode(revoked, { version: 1 });
    const body = Buffer.from([0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10]);
    const bytes = Buffer.concat([v1.subarray(0, SINGLE_OBJECT_HEADER_LENGTH), body]);
    expectCode(() => codec.decode(bytes), 'TR_CODEC_MALFORMED', /body is truncated/);
  });

  it('wraps an out-of-range union branch with the avsc error as cause', () => {
    // A minimal hand-made v3 body: eventId "", schemaVersion 0, producedAt 0,
    // source {"", ""}, canonicalizationVersion 0, then payload branch 5.
    const body = Buffer.from([0, 0, 0, 0, 0, 0, 10]);
    const bytes = Buffer.concat([good.subarray(0, SINGLE_OBJECT_HEADER_LENGTH), body]);
    const err = expectCode(() => codec.decode(bytes), 'TR_CODEC_MALFORMED', /does not decode with schema v4/);
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as Error).message).toMatch(/invalid union index/);
  });
});

describe('encode errors', () => {
  it('refuses a schema version that does not exist', () => {
    expectCode(() => codec.encode(publishedFull, { version: 9 }), 'TR_INTERNAL', /no schema version 9/);
  });

  it('refuses an event without a required timestamp', () => {
    const event: Partial<ThreatEvent> = { ...revoked };
    delete event.producedAt;
    expectCode(
      () => codec.encode(event as ThreatEvent),
      'TR_INTERNAL',
      /producedAt: invalid value undefined/,
    );
  });

  it('refuses a null where the schema has no null', () => {
    const event = { ...revoked, producedAt: null } as unknown as ThreatEvent;
    const err = expectCode(() => codec.encode(event), 'TR_INTERNAL', /producedAt: invalid value null/);
    expect(err.details).toEqual([{ path: 'producedAt', message: 'invalid value null' }]);
  });

  it('refuses a timestamp that is not ISO-8601', () => {
    const event: ThreatEvent = { ...revoked, producedAt: 'yesterday' };
    expectCode(() => codec.encode(event), 'TR_INTERNAL', /not a valid ISO-8601 string: yesterday/);
  });
});

describe('schema resolution', () => {
  it('reads a v1 record with the newest reader, firstSeen null', () => {
    const decoded = codec.decode(codec.encode(publishedFull, { version: 1 }));
    expect(decoded).toStrictEqual({ ...asVersion(publishedFull, 1), schemaVersion: 1 });
  });

  it('reads a v2 record with a v1 reader, dropping firstSeen', () => {
    const decoded = codec.decodeAs(codec.encode(publishedFull, { version: 2 }), 1);
    expect(decoded).toStrictEqual({ ...asVersion(publishedFull, 1), schemaVersion: 2 });
  });

  it('reads a v2 record with the v3 reader, quality null and no variants or warnings', () => {
    const decoded = codec.decode(codec.encode(publishedPdq, { version: 2 }));
    expect(decoded).toStrictEqual({ ...asVersion(publishedPdq, 2), schemaVersion: 2 });
  });

  it('reads a v3 record with a v2 reader, dropping quality, variants and warnings', () => {
    const decoded = codec.decodeAs(codec.encode(publishedPdq), 2);
    expect(decoded).toStrictEqual(asVersion(publishedPdq, 2));
  });

  it('reads a v3 record with a v1 reader, dropping firstSeen and the v3 fields', () => {
    const decoded = codec.decodeAs(codec.encode(publishedPdq), 1);
    expect(decoded).toStrictEqual(asVersion(publishedPdq, 1));
  });

  it('carries quality, variants and warnings through a v3 round trip as plain objects', () => {
    const decoded = codec.decode(codec.encode(publishedPdq));
    if (decoded.payload.kind !== 'IndicatorPublished') throw new Error('expected a published event');
    expect(decoded.payload.indicator.warnings[0].constructor).toBe(Object);
    expect(decoded.payload.indicator.variants).toEqual(
      publishedPdq.payload.kind === 'IndicatorPublished' ? publishedPdq.payload.indicator.variants : [],
    );
  });

  it('reads a v1 record with a v1 reader unchanged', () => {
    const decoded = codec.decodeAs(codec.encode(revoked, { version: 1 }), 1);
    expect(decoded).toStrictEqual({ ...revoked, schemaVersion: 1 });
  });

  it('reads a v4 indicator with a v3 reader although v4 added a payload branch', () => {
    expect(codec.decodeAs(codec.encode(publishedPdq), 3)).toStrictEqual(publishedPdq);
  });

  it('refuses a sighting read by a v3 reader as an unknown branch, not an exception of avsc', () => {
    expectCode(
      () => codec.decodeAs(codec.encode(sighting), 3),
      'TR_CODEC_UNKNOWN_BRANCH',
      /payload branch org\.threatrelay\.Sighting \(written with schema v4\) is unknown to a reader of schema v3/,
    );
  });

  it('refuses a sighting whose count is zero as not well-formed', () => {
    const zero = { ...sighting, payload: { ...sighting.payload, count: 0 } } as ThreatEvent;
    expectCode(() => codec.decode(codec.encode(zero)), 'TR_RECORD_INVALID', /payload\.count must be 1 to/);
  });

  it('cannot read a newer writer than its own schema files, even a compatible one', () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(SCHEMAS, 'threat-event.v1.avsc'), path.join(dir, 'threat-event.v1.avsc'));
    const v1Only = loadEventCodec(dir);
    expectCode(
      () => v1Only.decode(codec.encode(revoked)),
      'TR_CODEC_UNKNOWN_FINGERPRINT',
      /bb4fa11ff03438d1/,
    );
  });
});

describe('timestamp conversion', () => {
  // Years 0000 to 9999 and a margin either side, where the builtin switches to six-digit years.
  const anyMillis = fc.integer({ min: -62_200_000_000_000, max: 253_500_000_000_000 });

  it('formats milliseconds exactly as Date.prototype.toISOString', () => {
    fc.assert(
      fc.property(anyMillis, (ms) => {
        expect(isoFromMillis(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it('parses the model form exactly as Date.parse', () => {
    fc.assert(
      fc.property(anyMillis, (ms) => {
        const iso = new Date(ms).toISOString();
        expect(millisFromIso(iso)).toBe(Date.parse(iso));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    '2024-02-29T12:00:00.000Z',
    '2023-02-29T12:00:00.000Z',
    '2025-02-30T00:00:00.000Z',
    '2025-01-01T24:00:00.000Z',
    '2025-01-01T23:59:60.000Z',
    '2025-13-01T00:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '2025-03-15T08:00:00Z',
    '2025-03-15T08:00:00.000+01:00',
    '2025-03-15',
    '2025-03-15T08:00:00.00xZ',
    'not a date',
  ])('agrees with Date.parse on %s', (iso) => {
    expect(millisFromIso(iso)).toBe(Date.parse(iso));
  });
});
