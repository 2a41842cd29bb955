/**
 * The schema evolution check behind `schemas/README.md`: every version must
 * read every other, in both directions (full transitive compatibility). A
 * resolver that builds is not enough on its own, so a sample record per union
 * branch is also written with the writer schema and read back with the reader.
 * One evolution is allowed beyond that: new branches appended to the end of the
 * envelope's `payload` union (schemas/README.md rule 6). An older reader cannot
 * read those records at all, and dead-letters them (TR_CODEC_UNKNOWN_BRANCH);
 * every branch it does know must still read as before.
 */
import { isDeepStrictEqual } from 'node:util';
import { Type } from 'avsc';
import type { Schema, types } from 'avsc';

export interface NamedSchema {
  /** How problems name it, e.g. `threat-event.v2.avsc`. */
  name: string;
  schema: Schema;
}

export interface CompatibilityProblem {
  writer: string;
  reader: string;
  reason: string;
}

/**
 * Plain longs for logical types and always-wrapped unions: the check is about
 * the Avro data, so it uses the representation with the fewest conversions.
 */
function rawType(schema: Schema, registry: Record<string, Type> = {}): Type {
  return Type.forSchema(schema, { wrapUnions: true, registry });
}

/**
 * avsc names only the outermost type that fails to resolve (a union, here);
 * resolving each named type the two schemas share finds the one really at
 * fault, e.g. "org.threatrelay.Indicator: no matching field for ...".
 */
function namedTypeFailures(writer: Record<string, Type>, reader: Record<string, Type>): string[] {
  const out: string[] = [];
  for (const [name, rType] of Object.entries(reader)) {
    const wType = writer[name];
    if (!wType) continue;
    try {
      rType.createResolver(wType);
    } catch (err) {
      out.push(`${name}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * A deterministic value of `type` where every union takes its branch number
 * `pick` (modulo its size), so samples 0..n-1 cover every branch of every
 * union, and every array holds an element.
 */
function sample(type: Type, pick: number, seen: Set<string> = new Set()): unknown {
  switch (type.typeName) {
    case 'null':
      return null;
    case 'boolean':
      return pick % 2 === 0;
    case 'int':
    case 'long':
      return 1_700_000_000 + pick;
    case 'float':
    case 'double':
      return 0.5 + pick;
    case 'string':
      return `s${pick}`;
    case 'bytes':
      return Buffer.from([pick & 0xff]);
    case 'fixed':
      return Buffer.alloc((type as types.FixedType).size, pick & 0xff);
    case 'enum': {
      const symbols = (type as types.EnumType).symbols;
      return symbols[pick % symbols.length];
    }
    case 'array':
      return [sample((type as types.ArrayType).itemsType, pick, seen)];
    case 'map':
      return { k: sample((type as types.MapType).valuesType, pick, seen) };
    case 'union:wrapped': {
      const branches = (type as types.WrappedUnionType).types;
      // A recursive record must end somewhere: prefer null once a name repeats.
      let branch = branches[pick % branches.length];
      if (branch.name !== undefined && seen.has(branch.name)) {
        branch = branches.find((b) => b.typeName === 'null') ?? branch;
      }
      const value = sample(branch, pick, seen);
      return branch.typeName === 'null' ? null : { [branch.branchName as string]: value };
    }
    case 'record':
    case 'error': {
      const record = type as types.RecordType;
      const inner = new Set(seen).add(record.name as string);
      const value: Record<string, unknown> = {};
      for (const field of record.fields) value[field.name] = sample(field.type, pick, inner);
      return value;
    }
    default:
      throw new Error(`no sample for Avro type ${type.typeName}`);
  }
}

function unionBranchCount(type: Type, seen: Set<string> = new Set()): number {
  if (type.name !== undefined) {
    if (seen.has(type.name)) return 1;
    seen.add(type.name);
  }
  switch (type.typeName) {
    case 'array':
      return unionBranchCount((type as types.ArrayType).itemsType, seen);
    case 'map':
      return unionBranchCount((type as types.MapType).valuesType, seen);
    case 'union:wrapped': {
      const branches = (type as types.WrappedUnionType).types;
      return Math.max(branches.length, ...branches.map((b) => unionBranchCount(b, seen)));
    }
    case 'record':
    case 'error':
      return Math.max(1, ...(type as types.RecordType).fields.map((f) => unionBranchCount(f.type, seen)));
    default:
      return 1;
  }
}

/**
 * Where `read` (the writer's sample as the reader saw it) differs from
 * `written` on the fields both schemas have; fields only the reader has are
 * avsc's defaults and fields only the writer has are dropped, as the
 * specification wants.
 */
function differences(writer: Type, reader: Type, written: unknown, read: unknown, at: string): string[] {
  if (writer.typeName === 'union:wrapped' || reader.typeName === 'union:wrapped') {
    if (written === null || read === null)
      return written === read ? [] : [`${at}: ${String(written)} became ${String(read)}`];
    const [wName, wValue] = Object.entries(written as object)[0] as [string, unknown];
    const [rName, rValue] = Object.entries(read as object)[0] as [string, unknown];
    if (writer.typeName !== 'union:wrapped' || reader.typeName !== 'union:wrapped') {
      // A plain type promoted into a union, or a union narrowed to one branch: compare the payloads.
      const w = writer.typeName === 'union:wrapped' ? wValue : written;
      const r = reader.typeName === 'union:wrapped' ? rValue : read;
      return isDeepStrictEqual(w, r) ? [] : [`${at}: ${JSON.stringify(w)} became ${JSON.stringify(r)}`];
    }
    const wBranch = (writer as types.WrappedUnionType).types.find((t) => t.branchName === wName);
    const rBranch = (reader as types.WrappedUnionType).types.find((t) => t.branchName === rName);
    if (!wBranch || !rBranch) return [`${at}: branch ${wName} became ${rName}`];
    return differences(wBranch, rBranch, wValue, rValue, `${at}<${rName}>`);
  }
  if ((writer.typeName === 'record' || writer.typeName === 'error') && reader.typeName === writer.typeName) {
    const wFields = (writer as types.RecordType).fields;
    const out: string[] = [];
    for (const rField of (reader as types.RecordType).fields) {
      const wField = wFields.find((f) => f.name === rField.name || f.aliases.includes(rField.name));
      if (!wField) continue;
      const w = (written as Record<string, unknown>)[wField.name];
      const r = (read as Record<string, unknown>)[rField.name];
      out.push(...differences(wField.type, rField.type, w, r, `${at}.${rField.name}`));
    }
    return out;
  }
  if (writer.typeName === 'array' && reader.typeName === 'array') {
    const w = written as unknown[];
    const r = read as unknown[];
    if (w.length !== r.length) return [`${at}: ${w.length} items became ${r.length}`];
    return w.flatMap((item, i) =>
      differences(
        (writer as types.ArrayType).itemsType,
        (reader as types.ArrayType).itemsType,
        item,
        r[i],
        `${at}[${i}]`,
      ),
    );
  }
  if (typeof written === 'number' && typeof read === 'number') {
    // int -> long -> float -> double promotions keep the value.
    return written === read ? [] : [`${at}: ${written} became ${read}`];
  }
  const w = Buffer.isBuffer(written) && reader.typeName === 'string' ? written.toString() : written;
  return isDeepStrictEqual(w, read)
    ? []
    : [`${at}: ${JSON.stringify(written)} became ${JSON.stringify(read)}`];
}

/** The union of the top-level `payload` field, as written in the schema file. */
function payloadUnion(schema: Schema): unknown[] | undefined {
  const fields = (schema as { fields?: { name: string; type: unknown }[] }).fields;
  const payload = fields?.find((f) => f.name === 'payload');
  return Array.isArray(payload?.type) ? payload.type : undefined;
}

function branchName(branch: unknown): string {
  return typeof branch === 'string' ? branch : String((branch as { name?: unknown }).name);
}

/**
 * The payload branch names `writer` appends after every branch `reader` has,
 * and the writer schema without them. Only an append keeps the branch indices
 * of the shared branches, so only an append yields a trimmed writer; a branch
 * inserted elsewhere is left to fail resolution as before.
 */
export function appendedPayloadBranches(
  writer: Schema,
  reader: Schema,
): { added: string[]; trimmed: Schema } | undefined {
  const wUnion = payloadUnion(writer);
  const rUnion = payloadUnion(reader);
  if (!wUnion || !rUnion || wUnion.length <= rUnion.length) return undefined;
  const rNames = rUnion.map(branchName);
  if (!rNames.every((name, i) => branchName(wUnion[i]) === name)) return undefined;
  const added = wUnion.slice(rUnion.length).map(branchName);
  if (added.some((name) => rNames.includes(name))) return undefined;
  const trimmed = structuredClone(writer) as { fields: { name: string; type: unknown }[] };
  const payload = trimmed.fields.find((f) => f.name === 'payload') as { type: unknown[] };
  payload.type = payload.type.slice(0, rUnion.length);
  return { added, trimmed: trimmed as unknown as Schema };
}

/** Problems reading data written with `writer` through a reader holding `reader`; empty when it can. */
export function checkCanRead(writer: NamedSchema, reader: NamedSchema): CompatibilityProblem[] {
  const appended = appendedPayloadBranches(writer.schema, reader.schema);
  // Records of the appended branches are refused by the codec; the rest must read as before.
  if (appended) return checkCanReadExactly({ name: writer.name, schema: appended.trimmed }, reader);
  return checkCanReadExactly(writer, reader);
}

function checkCanReadExactly(writer: NamedSchema, reader: NamedSchema): CompatibilityProblem[] {
  const problem = (reason: string): CompatibilityProblem[] => [
    { writer: writer.name, reader: reader.name, reason },
  ];
  const wNamed: Record<string, Type> = {};
  const rNamed: Record<string, Type> = {};
  let wType: Type;
  let rType: Type;
  try {
    wType = rawType(writer.schema, wNamed);
    rType = rawType(reader.schema, rNamed);
  } catch (err) {
    return problem(`schema does not parse: ${(err as Error).message}`);
  }
  let resolver;
  try {
    resolver = rType.createResolver(wType);
  } catch (err) {
    const causes = namedTypeFailures(wNamed, rNamed);
    return problem(`no resolver: ${causes.length > 0 ? causes.join('; ') : (err as Error).message}`);
  }
  const reasons: string[] = [];
  const count = unionBranchCount(wType);
  for (let pick = 0; pick < count; pick++) {
    const written = sample(wType, pick);
    try {
      const read = rType.fromBuffer(wType.toBuffer(written), resolver);
      if (!rType.isValid(read)) reasons.push(`sample ${pick} reads as an invalid ${reader.name} value`);
      else reasons.push(...differences(wType, rType, written, read, `sample ${pick}`));
    } catch (err) {
      reasons.push(`sample ${pick} does not round-trip: ${(err as Error).message}`);
    }
  }
  return reasons.map((reason) => ({ writer: writer.name, reader: reader.name, reason }));
}

/**
 * Full transitive compatibility: every schema reads every other one's data,
 * both directions. Empty when the set is compatible.
 */
export function checkFullCompatibility(schemas: readonly NamedSchema[]): CompatibilityProblem[] {
  const problems: CompatibilityProblem[] = [];
  for (const writer of schemas) {
    for (const reader of schemas) {
      if (writer !== reader) problems.push(...checkCanRead(writer, reader));
    }
  }
  return problems;
}
