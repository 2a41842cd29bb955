/**
 * The evolution rules of schemas/README.md, enforced: every published
 * version stays byte-for-byte what it was (pinned fingerprints) and every
 * version reads every other one's data, both directions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { schemaFingerprint } from '../../../../services/contract/avro/crc64';
import { checkCanRead, checkFullCompatibility } from '../../../../services/contract/avro/compat';
import type { NamedSchema } from '../../../../services/contract/avro/compat';

const SCHEMAS = path.resolve(__dirname, '../../../../schemas');
const FIXTURE = path.resolve(__dirname, '../../../fixtures/schemas/incompatible.avsc');

/**
 * Fingerprints of published versions (agreed by fastavro in
 * codec.oracle.test.ts). A new version adds its line here; an existing line
 * never changes, because records written with it sit in Kafka under it.
 */
const PUBLISHED: Record<string, string> = {
  'threat-event.v1.avsc': 'ed602bf8643fc300',
  'threat-event.v2.avsc': 'f830bb2677bdcd61',
  'threat-event.v3.avsc': '4f05085a978082c7',
  'threat-event.v4.avsc': 'bb4fa11ff03438d1',
};

function load(file: string): NamedSchema {
  return { name: path.basename(file), schema: JSON.parse(fs.readFileSync(file, 'utf8')) };
}

const versions = fs
  .readdirSync(SCHEMAS)
  .filter((f) => /^threat-event\.v\d+\.avsc$/.test(f))
  .sort((a, b) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]))
  .map((f) => load(path.join(SCHEMAS, f)));
const newest = versions[versions.length - 1];

type Json = Record<string, unknown> & { fields?: Json[]; name?: string; type?: unknown };

/** A deep copy of the newest schema with `edit` applied to the named record's schema. */
function newestWith(recordName: string, edit: (record: Json) => void): NamedSchema {
  const copy = structuredClone(newest.schema) as Json;
  let found = false;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const n = node as Json;
      if (n.type === 'record' && n.name === recordName) {
        edit(n);
        found = true;
      }
      Object.values(n).forEach(visit);
    }
  };
  visit(copy);
  if (!found) throw new Error(`no record ${recordName} in ${newest.name}`);
  return { name: `${newest.name} edited`, schema: copy as NamedSchema['schema'] };
}

function field(record: Json, name: string): Json {
  const found = record.fields?.find((f) => f.name === name);
  if (!found) throw new Error(`no field ${name}`);
  return found;
}

describe('schemas/', () => {
  it('holds threat-event.v1.avsc up to the newest with no gap', () => {
    expect(versions.map((v) => v.name)).toEqual(versions.map((_, i) => `threat-event.v${i + 1}.avsc`));
  });

  it.each(versions.map((v) => [v.name, v]))('%s still has its published fingerprint', (name, v) => {
    // Expected undefined: a new version, pin the fingerprint received. Anything
    // else: a published file was edited; restore it and write a new version.
    expect(schemaFingerprint((v as NamedSchema).schema).toString('hex')).toBe(PUBLISHED[name as string]);
  });

  it.each(versions.map((v) => [v.name, v]))('%s documents every named type and field', (_name, v) => {
    const undocumented: string[] = [];
    const visit = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => visit(n, `${at}[${i}]`));
      else if (node && typeof node === 'object') {
        const n = node as Json;
        const named = n.type === 'record' || n.type === 'enum' || n.type === 'fixed';
        if (named && !n.doc) undocumented.push(`${at} ${String(n.name)}`);
        for (const f of n.fields ?? []) {
          if (!f.doc) undocumented.push(`${at}.${String(f.name)}`);
          visit(f.type, `${at}.${String(f.name)}`);
        }
        if (n.items) visit(n.items, `${at}[]`);
      }
    };
    visit((v as NamedSchema).schema, '');
    expect(undocumented).toEqual([]);
  });
});

describe('full transitive compatibility', () => {
  const pairs = versions.flatMap((w) => versions.filter((r) => r !== w).map((r) => [w.name, r.name, w, r]));

  it.each(pairs)('data written with %s reads with %s', (_w, _r, writer, reader) => {
    expect(checkCanRead(writer as NamedSchema, reader as NamedSchema)).toEqual([]);
  });

  it('holds for the whole set', () => {
    expect(checkFullCompatibility(versions)).toEqual([]);
  });
});

describe('checkFullCompatibility on a broken schema', () => {
  it('reports the fixture whose new field has no default as unable to read older data', () => {
    const fixture = load(FIXTURE);
    const problems = checkFullCompatibility([...versions, fixture]);
    expect(problems.map((p) => `${p.writer} -> ${p.reader}`)).toEqual(
      versions.map((v) => `${v.name} -> incompatible.avsc`),
    );
    for (const p of problems)
      expect(p.reason).toMatch(/default-less org\.threatrelay\.Indicator\.sightingCount/);
  });

  it('reports a retyped field in both directions', () => {
    const retyped = newestWith('Indicator', (r) => {
      field(r, 'confidence').type = 'string';
    });
    const problems = checkFullCompatibility([newest, retyped]);
    expect(problems).toHaveLength(2);
    for (const p of problems) expect(p.reason).toMatch(/cannot read "(int|string)" as "(string|int)"/);
  });

  it('reports a removed field without default as unreadable by the older reader', () => {
    const removed = newestWith('IndicatorRevoked', (r) => {
      r.fields = r.fields?.filter((f) => f.name !== 'reason');
    });
    expect(checkCanRead(removed, newest)).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(/default-less org\.threatrelay\.IndicatorRevoked\.reason/),
      }),
    ]);
  });

  it('reports a renamed record without alias', () => {
    const renamed = newestWith('Source', (r) => {
      r.name = 'Origin';
    });
    expect(checkCanRead(newest, renamed)).not.toEqual([]);
  });

  /** The newest schema with a record branch named `name` put into `payload` at `at` (the end by default). */
  function withBranch(name: string, at?: number): NamedSchema {
    const copy = structuredClone(newest.schema) as Json;
    const payload = field(copy, 'payload');
    const branches = [...(payload.type as unknown[])];
    const branch = { type: 'record', name, doc: 'x', fields: [{ name: 'key', type: 'string', doc: 'x' }] };
    branches.splice(at ?? branches.length, 0, branch);
    payload.type = branches;
    return { name: `with ${name}`, schema: copy as NamedSchema['schema'] };
  }

  it('accepts a payload branch appended at the end, in both directions', () => {
    // Older readers refuse only the new branch's records (TR_CODEC_UNKNOWN_BRANCH, codec.test.ts).
    expect(checkFullCompatibility([...versions, withBranch('Reaction')])).toEqual([]);
  });

  it('reports a payload branch inserted before the others as unreadable by older readers', () => {
    const inserted = withBranch('Reaction', 0);
    expect(checkCanRead(newest, inserted)).toEqual([]);
    expect(checkCanRead(inserted, newest)).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(/cannot read "org\.threatrelay\.Reaction"/) }),
    ]);
  });

  it('reports an appended branch that changes a shared record as that change', () => {
    const both = withBranch('Reaction');
    const payload = field(both.schema as Json, 'payload');
    const revoked = (payload.type as Json[]).find((b) => b.name === 'IndicatorRevoked') as Json;
    revoked.fields = revoked.fields?.filter((f) => f.name !== 'reason');
    expect(checkCanRead(both, newest)).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(/default-less org\.threatrelay\.IndicatorRevoked\.reason/),
      }),
    ]);
  });

  it('accepts a new optional field with a default, in both directions', () => {
    const added = newestWith('Indicator', (r) => {
      r.fields?.push({ name: 'killChainPhase', type: ['null', 'string'], default: null, doc: 'x' });
    });
    expect(checkFullCompatibility([...versions, added])).toEqual([]);
  });
});
