/**
 * The Avro codec of the bus: Avro single-object encoding of ThreatEvent
 * (`C3 01`, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer
 * schema's Parsing Canonical Form, then the binary body). Readers find the
 * writer schema by fingerprint among every `schemas/threat-event.vN.avsc` and
 * resolve it to the newest, so records written before an upgrade stay
 * readable after it. A reader cannot read a writer whose file it lacks: roll
 * new schema files out to subscribers before producers (schemas/README.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Type } from 'avsc';
import type { Resolver, Schema } from 'avsc';
import { appendedPayloadBranches } from './compat';
import { parsingCanonicalForm, schemaFingerprint } from './crc64';
import { typeForSchema } from './types';
import { assertRecordSize, assertWellFormed } from '../well-formed';
import { ThreatRelayError } from '../errors';
import type { ErrorDetail } from '../errors';
import type { ThreatEvent } from '../model';
import { fromAvro, NAMESPACE, toAvro, type AvroEnvelope } from './mapping';

/** `C3 01`: the single-object encoding marker (Avro specification, "Single-object encoding"). */
export const SINGLE_OBJECT_MAGIC = Buffer.from([0xc3, 0x01]);
/** Magic plus the 8-byte fingerprint. */
export const SINGLE_OBJECT_HEADER_LENGTH = 10;

const SCHEMA_FILE = /^threat-event\.v([1-9][0-9]*)\.avsc$/;

export interface SchemaVersion {
  /** The N of `threat-event.vN.avsc`. */
  readonly version: number;
  readonly file: string;
  /** The schema as written in the file (with docs and logical types). */
  readonly schema: Schema;
  readonly parsingCanonicalForm: string;
  /** Lowercase hex of the 8 fingerprint bytes, in header (little-endian) order. */
  readonly fingerprint: string;
  readonly fingerprintBytes: Buffer;
  /** The avsc type the codec reads and writes with (ISO-string timestamps, auto-wrapped unions). */
  readonly type: Type;
}

export interface EncodeOptions {
  /** Write with this older schema version instead of the newest (tests, tools, rolling upgrades). */
  version?: number;
}

export interface EventCodec {
  readonly dir: string;
  /** Every version in `dir`, oldest first. */
  readonly versions: readonly SchemaVersion[];
  readonly newest: SchemaVersion;
  /**
   * Writes `event` with the newest schema (or `options.version`), setting
   * `schemaVersion` to it. Fields the chosen schema lacks (`firstSeen` in v1;
   * `quality`, `variants`, `warnings` before v3) are not written.
   */
  encode(event: ThreatEvent, options?: EncodeOptions): Buffer;
  /** Reads a record written with any known version, resolved to the newest. */
  decode(bytes: Buffer): ThreatEvent;
  /** Reads a record resolved to schema `version` instead of the newest: what a reader still on that version sees. */
  decodeAs(bytes: Buffer, version: number): ThreatEvent;
}

/**
 * `THREATRELAY_SCHEMAS_DIR`, else the nearest `schemas/` holding a v1 file above
 * this module: the same lookup works from the TypeScript sources (tsx, jest)
 * and from the compiled `dist/` files, whose `dist/` has no copy of the schemas.
 */
export function defaultSchemasDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.THREATRELAY_SCHEMAS_DIR;
  if (override) return path.resolve(override);
  for (let dir = __dirname; ;) {
    const candidate = path.join(dir, 'schemas');
    if (fs.existsSync(path.join(candidate, 'threat-event.v1.avsc'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new ThreatRelayError(
        'TR_CONFIG',
        `no schemas/threat-event.v1.avsc found above ${__dirname}; set THREATRELAY_SCHEMAS_DIR`,
      );
    }
    dir = parent;
  }
}

function loadVersion(dir: string, file: string, version: number): SchemaVersion {
  const full = path.join(dir, file);
  let schema: Schema;
  let type: Type;
  try {
    schema = JSON.parse(fs.readFileSync(full, 'utf8')) as Schema;
    type = typeForSchema(schema);
  } catch (err) {
    throw new ThreatRelayError('TR_CONFIG', `${full} is not a valid Avro schema: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const fingerprintBytes = schemaFingerprint(schema);
  return {
    version,
    file: full,
    schema,
    parsingCanonicalForm: parsingCanonicalForm(schema),
    fingerprint: fingerprintBytes.toString('hex'),
    fingerprintBytes,
    type,
  };
}

/**
 * avsc's write errors name the Avro type, not the field ("invalid \"long\":
 * undefined"); its validator knows the path. Run only after a write failed,
 * so valid events never pay for validation twice.
 */
function invalidDetails(type: Type, value: unknown): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  try {
    type.isValid(value, {
      errorHook: (path: string[], any: unknown) => {
        details.push({
          path: path.join('.'),
          message: `invalid value ${JSON.stringify(any) ?? String(any)}`,
        });
      },
    });
  } catch {
    // The thrown write error stays the message.
  }
  return details;
}

/** How records of one writer version are read as one reader version. */
interface ReaderPlan {
  resolver?: Resolver;
  /** Payload branches the writer appended that the reader lacks (schemas/README.md rule 6). */
  added?: string[];
}

function buildPlan(writer: SchemaVersion, reader: SchemaVersion): ReaderPlan {
  // A writer that only appended payload branches resolves through its schema
  // without them: the shared branches keep their union indices.
  const appended = appendedPayloadBranches(writer.schema, reader.schema);
  try {
    if (appended) {
      return {
        resolver: reader.type.createResolver(typeForSchema(appended.trimmed)),
        added: appended.added,
      };
    }
    return { resolver: reader.type.createResolver(writer.type) };
  } catch (err) {
    // The compatibility test should make this impossible for files in schemas/.
    throw new ThreatRelayError(
      'TR_CODEC_MALFORMED',
      `schema v${writer.version} cannot be read as v${reader.version}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

class FileEventCodec implements EventCodec {
  readonly newest: SchemaVersion;
  private readonly byVersion = new Map<number, SchemaVersion>();
  /** Keyed `writer:reader`; avsc resolvers are costly to build and immutable. */
  private readonly resolvers = new Map<string, ReaderPlan>();
  /** Reused across encodes: one allocation per record instead of two plus a copy. */
  private scratch = Buffer.allocUnsafe(16 * 1024);

  constructor(
    readonly dir: string,
    readonly versions: readonly SchemaVersion[],
  ) {
    for (const v of versions) this.byVersion.set(v.version, v);
    this.newest = versions[versions.length - 1];
  }

  encode(event: ThreatEvent, options: EncodeOptions = {}): Buffer {
    const writer = options.version === undefined ? this.newest : this.version(options.version);
    let value: AvroEnvelope;
    try {
      value = toAvro(event, writer.version);
    } catch (err) {
      throw new ThreatRelayError(
        'TR_INTERNAL',
        `cannot encode event ${event.eventId}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    for (;;) {
      const end = this.writeInto(writer, value, event.eventId);
      if (end > 0) {
        // allocUnsafe takes small records from Node's pool: no zero-fill, no new ArrayBuffer.
        const out = Buffer.allocUnsafe(end);
        this.scratch.copy(out, 0, 0, end);
        return out;
      }
      // avsc reports how many bytes were missing as a negative offset.
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - end + 1024));
    }
  }

  decode(bytes: Buffer): ThreatEvent {
    return this.read(bytes, this.newest);
  }

  decodeAs(bytes: Buffer, version: number): ThreatEvent {
    return this.read(bytes, this.version(version));
  }

  private version(version: number): SchemaVersion {
    const found = this.byVersion.get(version);
    if (!found) {
      throw new ThreatRelayError(
        'TR_INTERNAL',
        `no schema version ${version} in ${this.dir} (have ${this.versions.map((v) => v.version).join(', ')})`,
      );
    }
    return found;
  }

  private writeInto(writer: SchemaVersion, value: AvroEnvelope, eventId: string): number {
    writer.fingerprintBytes.copy(this.scratch, SINGLE_OBJECT_MAGIC.length);
    SINGLE_OBJECT_MAGIC.copy(this.scratch, 0);
    try {
      return writer.type.encode(value, this.scratch, SINGLE_OBJECT_HEADER_LENGTH);
    } catch (err) {
      // Only a value the model's types should have ruled out gets here (the
      // producer validated it), so this is a bug, not a client error.
      const details = invalidDetails(writer.type, value);
      const where = details.map((d) => `${d.path}: ${d.message}`).join('; ');
      const why = (err as Error).message;
      throw new ThreatRelayError(
        'TR_INTERNAL',
        `cannot encode event ${eventId} with schema v${writer.version}: ${where ? `${where} (${why})` : why}`,
        { cause: err, details },
      );
    }
  }

  private writerOf(bytes: Buffer): SchemaVersion {
    if (!Buffer.isBuffer(bytes)) {
      throw new ThreatRelayError('TR_CODEC_MALFORMED', 'record value is not a Buffer');
    }
    if (bytes[0] !== SINGLE_OBJECT_MAGIC[0] || (bytes.length > 1 && bytes[1] !== SINGLE_OBJECT_MAGIC[1])) {
      throw new ThreatRelayError(
        'TR_CODEC_MALFORMED',
        `not Avro single-object encoded: starts with ${bytes.subarray(0, 2).toString('hex') || 'nothing'}, expected c301`,
      );
    }
    if (bytes.length < SINGLE_OBJECT_HEADER_LENGTH) {
      throw new ThreatRelayError(
        'TR_CODEC_MALFORMED',
        `record is ${bytes.length} bytes, shorter than the ${SINGLE_OBJECT_HEADER_LENGTH}-byte single-object header`,
      );
    }
    // Two 32-bit compares per version: no BigInt or hex string per record.
    const lo = bytes.readUInt32LE(2);
    const hi = bytes.readUInt32LE(6);
    for (let i = this.versions.length - 1; i >= 0; i--) {
      const v = this.versions[i];
      if (v.fingerprintBytes.readUInt32LE(0) === lo && v.fingerprintBytes.readUInt32LE(4) === hi) return v;
    }
    const hex = bytes.subarray(2, SINGLE_OBJECT_HEADER_LENGTH).toString('hex');
    throw new ThreatRelayError(
      'TR_CODEC_UNKNOWN_FINGERPRINT',
      `no schema in ${this.dir} has fingerprint ${hex} (known: ${this.versions
        .map((v) => `v${v.version} ${v.fingerprint}`)
        .join(', ')})`,
    );
  }

  private resolver(writer: SchemaVersion, reader: SchemaVersion): ReaderPlan {
    if (writer === reader) return {};
    const key = `${writer.version}:${reader.version}`;
    let plan = this.resolvers.get(key);
    if (!plan) {
      plan = buildPlan(writer, reader);
      this.resolvers.set(key, plan);
    }
    return plan;
  }

  /** Refuses a record of a payload branch the reader lacks before resolving it. */
  private refuseUnknownBranch(
    bytes: Buffer,
    writer: SchemaVersion,
    reader: SchemaVersion,
    added: string[],
  ): void {
    let branch: string | undefined;
    try {
      const raw = writer.type.decode(bytes, SINGLE_OBJECT_HEADER_LENGTH).value as AvroEnvelope | undefined;
      branch = raw ? Object.keys(raw.payload)[0] : undefined;
    } catch {
      return; // The resolving decode below reports the malformed body.
    }
    if (branch !== undefined && added.some((name) => branch === name || branch === `${NAMESPACE}.${name}`)) {
      throw new ThreatRelayError(
        'TR_CODEC_UNKNOWN_BRANCH',
        `payload branch ${branch} (written with schema v${writer.version}) is unknown to a reader of schema v${reader.version}`,
      );
    }
  }

  private read(bytes: Buffer, reader: SchemaVersion): ThreatEvent {
    assertRecordSize(bytes);
    const writer = this.writerOf(bytes);
    const plan = this.resolver(writer, reader);
    if (plan.added) this.refuseUnknownBranch(bytes, writer, reader, plan.added);
    const resolver = plan.resolver;
    let decoded: { value: unknown; offset: number };
    try {
      decoded = reader.type.decode(bytes, SINGLE_OBJECT_HEADER_LENGTH, resolver);
    } catch (err) {
      throw new ThreatRelayError(
        'TR_CODEC_MALFORMED',
        `body does not decode with schema v${writer.version}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (decoded.offset < 0) {
      throw new ThreatRelayError(
        'TR_CODEC_MALFORMED',
        `body is truncated: ${bytes.length - SINGLE_OBJECT_HEADER_LENGTH} bytes do not hold a whole v${writer.version} record`,
      );
    }
    if (decoded.offset !== bytes.length) {
      throw new ThreatRelayError(
        'TR_CODEC_MALFORMED',
        `${bytes.length - decoded.offset} trailing bytes after the v${writer.version} record (which ends at byte ${decoded.offset})`,
      );
    }
    let event: ThreatEvent;
    try {
      event = fromAvro(decoded.value as AvroEnvelope);
    } catch (err) {
      if (err instanceof ThreatRelayError) throw err;
      throw new ThreatRelayError(
        'TR_CODEC_MALFORMED',
        `body decodes to an invalid event: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    // Decodable is not enough: closed sets and id shapes are checked for every record read.
    return assertWellFormed(event);
  }
}

/**
 * Loads every `threat-event.vN.avsc` in `dir`. Throws TR_CONFIG when there is
 * none, when one does not parse, or when versions are missing in between (a
 * gap means a published schema was deleted, which would strand its records).
 */
export function loadEventCodec(dir: string = defaultSchemasDir()): EventCodec {
  let files: string[];
  try {
    files = fs.readdirSync(dir);
  } catch (err) {
    throw new ThreatRelayError('TR_CONFIG', `cannot read the schema directory ${dir}`, { cause: err });
  }
  const found = files
    .map((file) => ({ file, match: SCHEMA_FILE.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map((f) => ({ file: f.file, version: Number(f.match[1]) }))
    .sort((a, b) => a.version - b.version);
  if (found.length === 0) {
    throw new ThreatRelayError('TR_CONFIG', `no threat-event.vN.avsc in ${dir}`);
  }
  found.forEach((f, i) => {
    if (f.version !== i + 1) {
      throw new ThreatRelayError('TR_CONFIG', `${dir} has ${f.file} but no threat-event.v${i + 1}.avsc`);
    }
  });
  const versions = found.map((f) => loadVersion(dir, f.file, f.version));
  const seen = new Map<string, number>();
  for (const v of versions) {
    const twin = seen.get(v.fingerprint);
    if (twin !== undefined) {
      // Readers pick the writer schema by fingerprint, so twins would be ambiguous.
      throw new ThreatRelayError('TR_CONFIG', `v${twin} and v${v.version} have the same canonical form`);
    }
    seen.set(v.fingerprint, v.version);
  }
  return new FileEventCodec(dir, versions);
}
