/**
 * The codec against an independent Avro implementation: fastavro, run in the
 * venv `scripts/oracles/setup.sh` builds under `.cache/`. Fingerprints,
 * canonical forms and bytes must agree both ways.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadEventCodec } from '../../../../services/contract/avro/codec';
import type { Indicator, ThreatEvent } from '../../../../services/contract/model';
import { allEvents, asVersion } from '../../../fixtures/threat-events';

const ROOT = path.resolve(__dirname, '../../../..');
const SCHEMAS = path.join(ROOT, 'schemas');
const ORACLE = path.join(ROOT, 'scripts/oracles/avro_oracle.py');
const codec = loadEventCodec(SCHEMAS);
const VERSIONS = codec.versions.map((v) => v.version);
const NEWEST = codec.newest.version;

let python = '';

beforeAll(() => {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts/oracles/setup.sh')], {
    encoding: 'utf8',
    timeout: 110_000,
  });
  python = out.trim().split('\n').pop() ?? '';
}, 120_000);

type OracleResult = { error?: string; pcf?: string; fingerprint?: string; value?: unknown; bytes?: string };

function oracle(commands: object[]): OracleResult[] {
  const out = execFileSync(python, [ORACLE], {
    input: JSON.stringify(commands),
    encoding: 'utf8',
    timeout: 60_000,
  });
  const results = JSON.parse(out) as OracleResult[];
  for (const r of results) if (r.error) throw new Error(`oracle: ${r.error}`);
  return results;
}

function schemaFile(version: number): unknown {
  return JSON.parse(fs.readFileSync(path.join(SCHEMAS, `threat-event.v${version}.avsc`), 'utf8'));
}

/** The event as fastavro represents it: union branches by `-type`, no `kind`. */
function fastavroShape(event: ThreatEvent, version: number): Record<string, unknown> {
  const { kind, ...fields } = event.payload;
  let payload: Record<string, unknown> = { '-type': `org.threatrelay.${kind}`, ...fields };
  if (event.payload.kind === 'IndicatorPublished' && version < 3) {
    // Fields the writer's schema lacks are absent, not defaulted, in what fastavro reads.
    const indicator: Partial<Indicator> = { ...event.payload.indicator };
    if (version < 2) delete indicator.firstSeen;
    delete indicator.quality;
    delete indicator.variants;
    delete indicator.warnings;
    payload = { ...payload, indicator };
  }
  return { ...event, schemaVersion: version, payload };
}

/** The fixture events a schema version can hold: sightings only from v4. */
function writableWith(version: number): ThreatEvent[] {
  return Object.values(allEvents).filter((e) => e.payload.kind !== 'Sighting' || version >= 4);
}

function ms(iso: string | null): number | null {
  return iso === null ? null : Date.parse(iso);
}

/** fastavro's writer input: timestamps as integer milliseconds. */
function fastavroInput(event: ThreatEvent, version: number): Record<string, unknown> {
  const shape = fastavroShape(event, version);
  const payload = shape.payload as Record<string, unknown>;
  if (event.payload.kind === 'IndicatorPublished') {
    const i = payload.indicator as Indicator;
    payload.indicator = {
      ...i,
      validFrom: ms(i.validFrom),
      validUntil: ms(i.validUntil),
      ...(version >= 2 ? { firstSeen: ms(i.firstSeen) } : {}),
    };
  }
  if (event.payload.kind === 'Sighting') {
    Object.assign(payload, { firstSeen: ms(event.payload.firstSeen), lastSeen: ms(event.payload.lastSeen) });
  }
  return { ...shape, producedAt: ms(event.producedAt) };
}

describe('fastavro oracle', () => {
  it('computes the same CRC-64-AVRO fingerprint for every schema in schemas/', () => {
    const results = oracle(codec.versions.map((v) => ({ op: 'fingerprint', schema: schemaFile(v.version) })));
    expect(results.map((r) => r.fingerprint)).toEqual(codec.versions.map((v) => v.fingerprint));
  });

  it('computes the same Parsing Canonical Form for every schema in schemas/', () => {
    const results = oracle(codec.versions.map((v) => ({ op: 'fingerprint', schema: schemaFile(v.version) })));
    expect(results.map((r) => r.pcf)).toEqual(codec.versions.map((v) => v.parsingCanonicalForm));
  });

  it.each(VERSIONS)('reads every record we write with schema v%i as the same values', (version) => {
    const events = writableWith(version);
    const results = oracle(
      events.map((e) => ({
        op: 'decode',
        schema: schemaFile(version),
        bytes: codec.encode(e, { version }).toString('hex'),
      })),
    );
    expect(results.map((r) => r.value)).toEqual(events.map((e) => fastavroShape(e, version)));
  });

  it.each(VERSIONS)('writes records with schema v%i that our codec reads as the same event', (version) => {
    const events = writableWith(version);
    const results = oracle(
      events.map((e) => ({ op: 'encode', schema: schemaFile(version), record: fastavroInput(e, version) })),
    );
    const decoded = results.map((r) => codec.decode(Buffer.from(r.bytes as string, 'hex')));
    const expected = events.map((e) => ({
      ...asVersion(e, version),
      schemaVersion: version,
    }));
    expect(decoded).toStrictEqual(expected);
  });

  it('writes the same bytes as fastavro for the same record', () => {
    const events = Object.values(allEvents);
    const results = oracle(
      events.map((e) => ({ op: 'encode', schema: schemaFile(NEWEST), record: fastavroInput(e, NEWEST) })),
    );
    expect(results.map((r) => r.bytes)).toEqual(events.map((e) => codec.encode(e).toString('hex')));
  });
});
