/**
 * Is Avro worth it on the bus? Encode and decode speed and size of realistic
 * indicator events: our codec (single-object header, model <-> Avro mapping,
 * ISO <-> millisecond timestamps), raw avsc on pre-mapped values (what avsc
 * alone costs), and JSON, the obvious alternative.
 *
 *   npx tsx bench/codec.ts [--seconds=1.25]
 *
 * Each case runs its encode and its decode loop for `seconds` after a short
 * warm-up, so the whole run takes about 10 * seconds. Prints a markdown table
 * for BENCHMARKS.md.
 */
import os from 'node:os';
import { Type } from 'avsc';
import { loadEventCodec } from '../services/contract/avro/codec';
import type { Schema } from 'avsc';
import type {
  Category,
  IndicatorType,
  Platform,
  Severity,
  ThreatEvent,
  Tlp,
} from '../services/contract/model';
import { rng } from './support';

const SECONDS = Number(
  /^--seconds=(.+)$/.exec(process.argv.find((a) => a.startsWith('--seconds=')) ?? '')?.[1] ?? 1.25,
);
const WARMUP_SECONDS = 0.3;
const RECORDS = 4096;

const rand = rng(20250314);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');
const word = (): string =>
  pick(['login', 'secure', 'update', 'account', 'verify', 'cdn', 'news', 'daily', 'portal']);
const uuid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
const iso = (ms: number): string => new Date(ms).toISOString();

function value(type: IndicatorType): { value: string; platform: Platform | null } {
  switch (type) {
    case 'ipv4':
      return { value: `${int(1, 223)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`, platform: null };
    case 'domain':
      return {
        value: `${word()}-${word()}${int(1, 99)}.${pick(['com', 'net', 'org', 'ru', 'xyz'])}`,
        platform: null,
      };
    case 'url':
      return {
        value: `https://${word()}.${word()}${int(1, 999)}.com/${word()}/${word()}?id=${hex(int(6, 24))}`,
        platform: null,
      };
    case 'sha256':
      return { value: hex(64), platform: null };
    case 'md5':
      return { value: hex(32), platform: null };
    case 'social_account':
      return {
        value: `${word()}_${word()}_${int(1, 9999)}`,
        platform: pick(['telegram', 'twitter', 'tiktok']),
      };
    default:
      return { value: `${word()}${int(1, 999)}`, platform: type === 'hashtag' ? 'instagram' : null };
  }
}

const TYPES: IndicatorType[] = [
  'ipv4',
  'domain',
  'domain',
  'url',
  'url',
  'sha256',
  'md5',
  'social_account',
  'hashtag',
];
const CATEGORIES: Category[] = [
  'phishing',
  'malware',
  'c2',
  'disinformation',
  'coordinated_inauthentic_behavior',
];
const TLPS: Tlp[] = ['clear', 'green', 'green', 'amber', 'amber+strict', 'red'];
const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical'];
const ORGS = ['acme-corp', 'gov-cert', 'bank-isac', 'social-co', 'telco-one', 'cloud-sec'];

function event(i: number): ThreatEvent {
  const type = pick(TYPES);
  const v = value(type);
  const tlp = pick(TLPS);
  const recipients = tlp === 'amber+strict' || tlp === 'red' ? ORGS.slice(0, int(1, 3)) : [];
  const produced = Date.UTC(2025, 0, 1) + int(0, 300 * 86_400_000);
  const base = {
    eventId: uuid(),
    schemaVersion: 2,
    producedAt: iso(produced),
    source: { org: pick(ORGS), submitter: pick(['api', 'soc-tier2', 'integrity', 'cti-feed']) },
    canonicalizationVersion: 1,
  };
  const key = hex(64);
  if (i % 10 === 9) {
    return {
      ...base,
      payload: {
        kind: 'IndicatorRevoked',
        key,
        type,
        ...v,
        tlp,
        recipients,
        reason: 'false positive: benign infra',
      },
    };
  }
  return {
    ...base,
    payload: {
      kind: 'IndicatorPublished',
      key,
      indicator: {
        type,
        ...v,
        category: pick(CATEGORIES),
        tlp,
        recipients,
        confidence: int(10, 100),
        severity: pick(SEVERITIES),
        validFrom: iso(produced - int(0, 86_400_000)),
        validUntil: rand() < 0.7 ? iso(produced + int(1, 90) * 86_400_000) : null,
        threatActor: rand() < 0.3 ? `TA-${int(100, 999)}` : null,
        campaign: rand() < 0.3 ? `${word()} ${word()} campaign` : null,
        tags: Array.from({ length: int(0, 4) }, () => word()),
        description:
          rand() < 0.4
            ? `Observed ${word()} infrastructure serving ${word()} kits to ${word()} users.`
            : null,
        references: Array.from({ length: int(0, 2) }, () => `https://reports.example.org/${hex(10)}`),
        firstSeen: rand() < 0.5 ? iso(produced - int(1, 30) * 86_400_000) : null,
        quality: null,
        variants: [],
        warnings: [],
      },
    },
  };
}

const events = Array.from({ length: RECORDS }, (_, i) => event(i));
const codec = loadEventCodec();
const schema = codec.newest.schema;

/** avsc alone: no logical types (longs), values already in Avro shape, no header. */
const rawType = Type.forSchema(schema as Schema, { wrapUnions: 'auto' });
const toMs = (s: string | null): number | null => (s === null ? null : Date.parse(s));
const rawValues = events.map((e) => {
  const { kind, ...fields } = e.payload;
  let body: Record<string, unknown> = fields;
  if (e.payload.kind === 'IndicatorPublished') {
    const i = e.payload.indicator;
    body = {
      ...fields,
      indicator: {
        ...i,
        validFrom: toMs(i.validFrom),
        validUntil: toMs(i.validUntil),
        firstSeen: toMs(i.firstSeen),
        quality: null,
        variants: [],
        warnings: [],
      },
    };
  }
  return { ...e, producedAt: toMs(e.producedAt), payload: { [`org.threatrelay.${kind}`]: body } };
});

/** The codec's own avsc type (ISO logical types), values pre-mapped: isolates the mapping + header cost. */
const isoType = codec.newest.type;
const isoValues = events.map((e) => {
  const { kind, ...fields } = e.payload;
  return { ...e, payload: { [`org.threatrelay.${kind}`]: fields } };
});

interface Case {
  name: string;
  encoded: Buffer[];
  encode: (i: number) => Buffer;
  decode: (i: number) => unknown;
}

function makeCase(name: string, encode: (i: number) => Buffer, decode: (b: Buffer) => unknown): Case {
  const encoded = events.map((_, i) => encode(i));
  return { name, encoded, encode, decode: (i) => decode(encoded[i]) };
}

const cases: Case[] = [
  makeCase(
    'JSON.stringify + JSON.parse (Buffer)',
    (i) => Buffer.from(JSON.stringify(events[i])),
    (b) => JSON.parse(b.toString()),
  ),
  makeCase(
    'JSON.stringify + JSON.parse (string only)',
    (i) => Buffer.from(JSON.stringify(events[i])),
    (b) => JSON.parse(b.toString('latin1')),
  ),
  makeCase(
    'avsc toBuffer/fromBuffer, raw (long timestamps, pre-mapped)',
    (i) => rawType.toBuffer(rawValues[i]),
    (b) => rawType.fromBuffer(b),
  ),
  makeCase(
    'avsc toBuffer/fromBuffer, ISO logical types (pre-mapped)',
    (i) => isoType.toBuffer(isoValues[i]),
    (b) => isoType.fromBuffer(b),
  ),
  makeCase(
    'codec codec.encode/decode (header, mapping, ISO)',
    (i) => codec.encode(events[i]),
    (b) => codec.decode(b),
  ),
];

// Keeps results observable so the JIT cannot drop the work.
let sink = 0;

function rate(fn: (i: number) => unknown, seconds: number): number {
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 256; k++) {
      const out = fn(n % RECORDS);
      sink += out === undefined ? 0 : 1;
      n++;
    }
    elapsed = process.hrtime.bigint() - start;
  }
  return n / (Number(elapsed) / 1e9);
}

function measure(c: Case): { encode: number; decode: number; roundTrip: number; bytes: number } {
  rate(c.encode, WARMUP_SECONDS);
  const encode = rate(c.encode, SECONDS);
  rate(c.decode, WARMUP_SECONDS);
  const decode = rate(c.decode, SECONDS);
  const bytes = c.encoded.reduce((sum, b) => sum + b.length, 0) / RECORDS;
  return { encode, decode, roundTrip: 1 / (1 / encode + 1 / decode), bytes };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const results = cases.map((c) => ({ name: c.name, ...measure(c) }));
const json = results[0];

console.log(`codec bench: ${RECORDS} distinct events, ${SECONDS}s per loop after ${WARMUP_SECONDS}s warm-up`);
console.log(
  `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})`,
);
console.log('');
console.log('| case | encode rec/s | decode rec/s | encode+decode rec/s | vs JSON | bytes/rec | vs JSON |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.name} | ${fmt(r.encode)} | ${fmt(r.decode)} | ${fmt(r.roundTrip)} | ${(r.roundTrip / json.roundTrip).toFixed(2)}× | ${r.bytes.toFixed(1)} | ${(r.bytes / json.bytes).toFixed(2)} |`,
  );
}
if (sink === 0) console.log('(nothing ran)');
