/** avsc types for the bus's schemas, hardened against records that lie about their array sizes. */
import { Type, types } from 'avsc';
import type { Schema } from 'avsc';
import { TimestampMillisType } from './timestamps';

/** The part of avsc's (untyped) Tap the bounded array reader needs. */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
}
type ItemReader = { _read(tap: Tap): unknown; _skip(tap: Tap): void };

/**
 * avsc trusts an array's block count: a 22-byte record claiming 2^31 items
 * makes it allocate and loop until the process dies of heap exhaustion, which
 * would take every subscriber down with one bad record. Every item takes at
 * least one byte (`typeForSchema` refuses arrays whose items can be empty), so
 * a count beyond the bytes left is a malformed record: mark the tap overrun,
 * which surfaces as "truncated".
 */
class BoundedArrayType extends types.ArrayType {
  // Also the resolver's reader: avsc's ArrayType._update copies `this._read`
  // onto the resolver, where `this.itemsType` is the items' resolver.
  _read(tap: Tap): unknown[] {
    const items = this.itemsType as unknown as ItemReader;
    const val: unknown[] = [];
    let n: number;
    while ((n = tap.readLong())) {
      if (n < 0) {
        n = -n;
        tap.skipLong(); // Block size in bytes.
      }
      if (n > tap.buf.length - tap.pos) {
        tap.pos = tap.buf.length + 1;
        return val;
      }
      while (n--) val.push(items._read(tap));
    }
    return val;
  }

  _skip(tap: Tap): void {
    const items = this.itemsType as unknown as ItemReader;
    let n: number;
    while ((n = tap.readLong())) {
      if (n < 0) {
        tap.pos += tap.readLong();
      } else if (n > tap.buf.length - tap.pos) {
        tap.pos = tap.buf.length + 1;
        return;
      } else {
        while (n--) items._skip(tap);
      }
    }
  }
}

/** Whether a value of this schema can encode to zero bytes (null, a record of such fields). */
function canBeEmpty(schema: unknown, named: Map<string, unknown>): boolean {
  if (schema === 'null') return true;
  if (typeof schema === 'string') return named.has(schema) && canBeEmpty(named.get(schema), named);
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return false;
  const s = schema as { type?: unknown; fields?: { type: unknown }[] };
  if (s.type === 'null') return true;
  if (s.type === 'record' || s.type === 'error')
    return (s.fields ?? []).every((f) => canBeEmpty(f.type, named));
  return false;
}

export function typeForSchema(schema: Schema): Type {
  const named = new Map<string, unknown>();
  return Type.forSchema(schema, {
    // Wraps only the payload union (two records), so nullable fields stay plain values.
    wrapUnions: 'auto',
    logicalTypes: { 'timestamp-millis': TimestampMillisType },
    typeHook: (s, opts) => {
      if (!s || typeof s !== 'object' || Array.isArray(s) || s instanceof Type) return undefined;
      const obj = s as { type?: unknown; name?: unknown; items?: unknown };
      if (typeof obj.name === 'string') named.set(obj.name, s);
      if (obj.type !== 'array') return undefined;
      if (canBeEmpty(obj.items, named)) {
        throw new Error('an array whose items can encode to zero bytes cannot be read safely');
      }
      return new BoundedArrayType(s, opts);
    },
  });
}
