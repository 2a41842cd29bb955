/**
 * STIX bundles through POST /v1/stix, and files through `threatrelay
 * publish`, against a real broker and a real producer: what is accepted
 * lands in the right topics with the mapped fields, and everything else is
 * reported object by object, line by line.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  exitCodeOf,
  inferFormat,
  publishFile,
  summarize,
  type PublishFileResult,
} from '../../services/cli/publish';
import { startProducer, type RunningProducer } from '../../services/producer/service';
import { loadEventCodec } from '../../services/contract/avro/codec';
import type { Indicator, ThreatEvent } from '../../services/contract/model';
import { kafkaNames } from '../../services/contract/names';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';

const ROOT = path.resolve(__dirname, '../..');
const STIX = path.join(ROOT, 'test/fixtures/stix');
const PUBLISH = path.join(ROOT, 'test/fixtures/publish');

const codec = loadEventCodec();
let net: TestNetwork;
let producer: RunningProducer;
let tmp: string;

beforeAll(async () => {
  net = await createTestNetwork(
    [
      { id: 'facebook' },
      { id: 'twitter' },
      { id: 'fbi', kind: 'government' },
      { id: 'dhs', kind: 'government' },
    ],
    [],
    { producer: { maxBatchItems: 1000, rateLimitPerMinute: 100_000, bodyLimitBytes: 8 * 1024 * 1024 } },
  );
  producer = await net.startProducer('facebook');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'threatrelay-publish-'));
});

afterAll(async () => {
  await producer?.close();
  await net?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const topics = (): ReturnType<typeof kafkaNames> => kafkaNames(net.prefix);
const allTopics = (): string[] => [
  topics().community('clear'),
  topics().community('green'),
  topics().community('amber'),
  ...['facebook', 'twitter', 'fbi', 'dhs'].map((o) => topics().direct(o)),
];

/**
 * The topics' watermarks once they stop moving. They are read committed:
 * Kafka writes a transaction's commit markers just after the producer's
 * commit returns, so a read right after a 202 can miss the request's records.
 */
function settledWatermarks(): Promise<number> {
  return net.highWatermarks(allTopics());
}

/** Every event in `topic` by eventId. */
async function eventsIn(topic: string, atLeast = 0): Promise<Map<string, ThreatEvent>> {
  const records = await net.readAll(topic, { atLeast });
  return new Map(records.map((m) => codec.decode(m.value!)).map((e) => [e.eventId, e]));
}

function indicatorOf(e: ThreatEvent | undefined): Indicator {
  if (e?.payload.kind !== 'IndicatorPublished') throw new Error(`not a publication: ${JSON.stringify(e)}`);
  return e.payload.indicator;
}

const readFixture = (name: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(STIX, name), 'utf8')) as Record<string, unknown>;

function postStix(
  body: unknown,
  headers: Record<string, string> = {},
  key: string | null = net.apiKeys.facebook!,
): Promise<Response> {
  return fetch(`${producer.url}/v1/stix`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

interface StixAnswer {
  accepted: number;
  receipts: { index: number; id: string; eventId: string; key: string; records: { topic: string }[] }[];
  rejected: { index: number; id: string | null; path: string; code: string; reason: string }[];
  ignored: { index: number; id: string | null; type: string }[];
}

describe('POST /v1/stix', () => {
  it('publishes every indicator of a bundle to the topics its TLP names, with the mapped fields', async () => {
    const bundle = readFixture('election-disinfo.json');
    const objects = bundle.objects as { id: string; type: string }[];
    const res = await postStix(bundle, { 'content-type': 'application/stix+json;version=2.1' });
    expect(res.status).toBe(202);
    const answer = (await res.json()) as StixAnswer;
    expect(answer.accepted).toBe(12);
    expect(answer.rejected).toEqual([]);
    expect(answer.ignored).toHaveLength(objects.length - 12);
    for (const r of answer.receipts) expect(objects[r.index]!.id).toBe(r.id);

    const topicsOf = (pattern: RegExp): string[] => {
      const i = objects.findIndex((o) => pattern.test(String((o as { pattern?: string }).pattern)));
      return answer.receipts
        .find((r) => r.index === i)!
        .records.map((x) => x.topic)
        .sort();
    };
    expect(topicsOf(/precinct_watch_bot/)).toEqual([topics().direct('dhs'), topics().direct('fbi')]);
    expect(topicsOf(/file:hashes\.PDQ/)).toEqual([topics().direct('dhs')]);
    expect(topicsOf(/countyelections-results/)).toEqual([topics().community('green')]);
    expect(topicsOf(/polling-place-update/)).toEqual([topics().community('amber')]);
    expect(topicsOf(/real\.voter\.news/)).toEqual([topics().community('clear')]);

    // Each read joins a consumer group, which takes seconds: read the topics at once.
    const [green, fbi, amber] = await Promise.all([
      eventsIn(topics().community('green'), 1),
      eventsIn(topics().direct('fbi'), 1),
      eventsIn(topics().community('amber'), 1),
    ]);
    const domainEvent = [...green.values()].find(
      (e) => indicatorOf(e).value === 'countyelections-results.example.net',
    );
    expect(domainEvent).toBeDefined();
    expect(answer.receipts.map((r) => r.eventId)).toContain(domainEvent!.eventId);
    expect(domainEvent!.source).toEqual({ org: 'facebook', submitter: 'facebook-secops' });
    expect(indicatorOf(domainEvent)).toMatchObject({
      type: 'domain',
      category: 'disinformation',
      tlp: 'green',
      confidence: 85,
      validFrom: '2026-10-27T14:00:00.000Z',
      validUntil: '2026-11-30T00:00:00.000Z',
      tags: ['disinformation', 'election-2026'],
      campaign: 'Ballot Echo',
      references: ['https://transparency.example.org/reports/2026-10-ballot-echo'],
      description: expect.stringMatching(/^Lookalike county results site\n\nDomain imitating/),
    });

    const account = [...fbi.values()].map(indicatorOf).find((i) => i.type === 'social_account');
    expect(account).toMatchObject({
      value: 'precinct_watch_bot',
      platform: 'twitter',
      tlp: 'red',
      recipients: ['fbi', 'dhs'],
      category: 'coordinated_inauthentic_behavior',
      severity: 'high',
      threatActor: 'Storm Lantern',
    });
    expect([...amber.values()].map(indicatorOf)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'ipv4', value: '203.0.113.45', category: 'c2' }),
      ]),
    );
  });

  it('publishes what maps from a mixed bundle and reports every other object by index, id and reason', async () => {
    const bundle = readFixture('mixed.json');
    const objects = bundle.objects as { id: string }[];
    const res = await postStix(bundle);
    expect(res.status).toBe(202);
    const answer = (await res.json()) as StixAnswer;
    expect(answer.receipts.map((r) => [r.index, r.id])).toEqual([
      [2, objects[2]!.id],
      [13, objects[13]!.id],
    ]);
    const reasons = Object.fromEntries(answer.rejected.map((r) => [r.index, `${r.path}: ${r.reason}`]));
    expect(reasons).toEqual({
      3: expect.stringMatching(/^objects\.3\.pattern: OR /),
      4: expect.stringMatching(/^objects\.4\.pattern: FOLLOWEDBY /),
      5: expect.stringMatching(/^objects\.5\.pattern_type: .*"sigma"/),
      7: expect.stringMatching(/^objects\.7\.pattern: process:name does not map/),
      8: expect.stringMatching(/^objects\.8\.pattern: .*Public Suffix List/),
      9: expect.stringMatching(/^objects\.9\.x_threatrelay_recipients: required for tlp red/),
      10: expect.stringMatching(/^objects\.10\.indicator_types: .*benign/),
      11: expect.stringMatching(/^objects\.11\.pattern: LIKE /),
      12: expect.stringMatching(/^objects\.12\.object_marking_refs: no TLP marking/),
    });
    for (const r of answer.rejected) expect(r.id).toBe(objects[r.index]!.id);
    expect(answer.rejected.find((r) => r.index === 8)!.code).toBe('TR_INVALID_VALUE');
    expect(answer.ignored.map((i) => [i.index, i.type])).toEqual([
      [0, 'identity'],
      [1, 'marking-definition'],
      [6, 'note'],
      [14, 'relationship'],
      [15, 'campaign'],
    ]);
    const green = await eventsIn(topics().community('green'), 1);
    expect(indicatorOf(green.get(answer.receipts[0]!.eventId))).toMatchObject({
      value: 'sos-voter-lookup.example.com',
      campaign: 'Ballot Echo',
    });
  });

  it('answers 400 listing every reason, and publishes nothing, when no indicator maps', async () => {
    const before = await settledWatermarks();
    const res = await postStix(readFixture('unmappable.json'));
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { code: string; details: { path: string; message: string }[] };
    };
    expect(body.error.code).toBe('TR_VALIDATION');
    expect(body.error.details.map((d) => d.path)).toEqual([
      'objects.1.pattern',
      'objects.2.pattern',
      'objects.3.pattern_type',
      'objects.4.pattern',
      'objects.5.pattern',
    ]);
    expect(body.error.details[0]!.message).toMatch(/^indicator--[0-9a-f-]+: OR /);
    expect(await settledWatermarks()).toBe(before);
  });

  it('refuses a body that is not a bundle, and lists a recipient that is not an org for its object', async () => {
    const notBundle = await postStix([{ type: 'indicator' }]);
    expect(notBundle.status).toBe(400);
    expect(((await notBundle.json()) as { error: { details: unknown } }).error.details).toEqual([
      { path: 'type', message: expect.stringMatching(/must be a STIX bundle/) },
    ]);
    const bundle = readFixture('election-disinfo.json');
    const objects = bundle.objects as Record<string, unknown>[];
    const i = objects.findIndex((o) => String(o.pattern).includes('precinct_watch_bot'));
    objects[i] = { ...objects[i], x_threatrelay_recipients: ['fbi', 'kgb'] };
    const res = await postStix(bundle);
    expect(res.status).toBe(202);
    const answer = (await res.json()) as StixAnswer;
    expect(answer.accepted).toBe(11);
    expect(answer.rejected).toEqual([
      {
        index: i,
        id: objects[i]!.id,
        path: `objects.${i}.x_threatrelay_recipients.1`,
        code: 'TR_VALIDATION',
        reason: 'unknown org "kgb"',
      },
    ]);
    expect((await postStix(bundle, {}, null)).status).toBe(401);
  });

  it('answers a retry with the same Idempotency-Key with the same answer and writes nothing more', async () => {
    const headers = { 'idempotency-key': `stix-${Date.now()}` };
    const first = await postStix(readFixture('mixed.json'), headers);
    expect(first.status).toBe(202);
    const firstAnswer = await first.json();
    const after = await settledWatermarks();
    const retry = await postStix(readFixture('mixed.json'), headers);
    expect(await retry.json()).toEqual(firstAnswer);
    expect(await settledWatermarks()).toBe(after);
  });
});

// ---------------------------------------------------------------- threatrelay publish

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A good line for position i: mostly green, some amber, a few red for the FBI. */
function goodLine(i: number): Record<string, unknown> {
  const tlp = i % 500 === 0 ? 'red' : i % 50 === 0 ? 'amber' : 'green';
  const common = {
    tlp,
    ...(tlp === 'red' ? { recipients: ['fbi'] } : {}),
    confidence: 40 + (i % 60),
    tags: ['bulk-import'],
  };
  switch (i % 5) {
    case 0:
      return { type: 'domain', value: `ballot-echo-${i}.example.com`, category: 'disinformation', ...common };
    case 1:
      return {
        type: 'url',
        value: `https://vote-info.example.net/p/${i}`,
        category: 'disinformation',
        ...common,
      };
    case 2:
      return { type: 'ipv4', value: `198.51.100.${(i % 254) + 1}`, category: 'c2', ...common };
    case 3:
      return { type: 'sha256', value: sha256(`dropper-${i}`), category: 'malware', ...common };
    default:
      return {
        type: 'social_account',
        value: `@persona_${i}`,
        platform: 'twitter',
        category: 'coordinated_inauthentic_behavior',
        ...common,
      };
  }
}

/** The bad lines: line number → the text written, and what the report must say. */
const BAD_LINES: Record<number, { text: string; path: string; reason: RegExp }> = {};
function bad(line: number, item: unknown, pathName: string, reason: RegExp): void {
  BAD_LINES[line] = { text: typeof item === 'string' ? item : JSON.stringify(item), path: pathName, reason };
}
const rejectedDomain = (line: number, extra: Record<string, unknown>): Record<string, unknown> => ({
  type: 'domain',
  value: `rejected-line-${line}.example.com`,
  category: 'disinformation',
  tlp: 'green',
  ...extra,
});
bad(17, '{"type":"domain","value":', '(line)', /^not JSON/);
bad(2503, 'not json at all', '(line)', /^not JSON/);
bad(5001, "{'type':'domain','value':'x.example.com'}", '(line)', /^not JSON/);
bad(9999, '{"type":"domain",}', '(line)', /^not JSON/);
bad(101, rejectedDomain(101, { tlp: 'purple' }), 'tlp', /./);
bad(3333, rejectedDomain(3333, { tlp: 'TLP:GREEN' }), 'tlp', /./);
bad(6100, rejectedDomain(6100, { tlp: 'white' }), 'tlp', /./);
bad(8765, rejectedDomain(8765, { tlp: '' }), 'tlp', /./);
bad(
  250,
  { type: 'domain', value: 'results.election-night', category: 'disinformation', tlp: 'green' },
  'value',
  /Public Suffix List/,
);
bad(1999, { type: 'sha256', value: 'abc', category: 'malware', tlp: 'green' }, 'value', /64/);
bad(4500, { type: 'ipv4', value: '203.0.113.300', category: 'c2', tlp: 'green' }, 'value', /./);
bad(7777, { type: 'email', value: 'not-an-email', category: 'phishing', tlp: 'green' }, 'value', /./);
bad(404, rejectedDomain(404, { tlp: 'red' }), 'recipients', /required for tlp red/);
bad(5555, rejectedDomain(5555, { tlp: 'red' }), 'recipients', /required for tlp red/);
bad(8080, rejectedDomain(8080, { tlp: 'red' }), 'recipients', /required for tlp red/);
bad(9001, rejectedDomain(9001, { tlp: 'amber+strict' }), 'recipients', /required for tlp amber\+strict/);
bad(1234, rejectedDomain(1234, { tlp: 'red', recipients: ['kgb'] }), 'recipients.0', /unknown org "kgb"/);
bad(
  6789,
  rejectedDomain(6789, { tlp: 'red', recipients: ['fbi', 'kgb'] }),
  'recipients.1',
  /unknown org "kgb"/,
);
bad(3001, { type: 'domain', value: 'rejected-line-3001.example.com', tlp: 'green' }, 'category', /./);
bad(7001, rejectedDomain(7001, { severity: 'apocalyptic' }), 'severity', /./);

describe('threatrelay publish', () => {
  const LINES = 10_000;
  let file: string;
  let first: PublishFileResult;

  beforeAll(() => {
    file = path.join(tmp, 'feed.ndjson');
    const lines: string[] = [];
    for (let i = 1; i <= LINES; i++) lines.push(BAD_LINES[i]?.text ?? JSON.stringify(goodLine(i)));
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  });

  it('publishes every good line of a 10,000-line NDJSON file and reports each bad one with its line and reason', async () => {
    const progress = new Collect();
    first = await publishFile({
      file,
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      batchSize: 500,
      stderr: progress,
    });
    expect(first.format).toBe('ndjson');
    expect(first.records).toBe(LINES);
    expect(exitCodeOf(first)).toBe(1);
    expect(first.failed).toEqual([]);

    const badLines = Object.keys(BAD_LINES)
      .map(Number)
      .sort((a, b) => a - b);
    expect([...new Set(first.rejected.map((r) => r.line))].sort((a, b) => a - b)).toEqual(badLines);
    for (const r of first.rejected) {
      expect({ line: r.line, path: r.path }).toEqual({ line: r.line, path: BAD_LINES[r.line]!.path });
      expect(r.reason).toMatch(BAD_LINES[r.line]!.reason);
    }
    expect(first.accepted).toHaveLength(LINES - badLines.length);
    expect(new Set(first.accepted.map((a) => a.eventId)).size).toBe(LINES - badLines.length);
    expect(first.accepted.some((a) => BAD_LINES[a.line])).toBe(false);

    const report = summarize(first);
    expect(report).toMatch(/^10000 record\(s\) read \(ndjson\): 9980 accepted, 20 rejected, 0 failed/);
    expect(report).toMatch(/^line 404: recipients: required for tlp red$/m);
    expect(report).toMatch(/^line 17: \(line\): not JSON/m);
    // Not a TTY: plain progress lines, ending with the whole file.
    expect(progress.text).toMatch(/published 10000\/10000 records: 9980 accepted, 20 rejected\n$/);

    const expected = new Set(first.accepted.map((a) => a.eventId));
    const red = first.accepted.filter((a) => a.line % 500 === 0).length;
    const amber = first.accepted.filter((a) => a.line % 50 === 0 && a.line % 500 !== 0).length;
    const inKafka = new Map<string, ThreatEvent>();
    const read = await Promise.all([
      eventsIn(topics().community('green'), expected.size - red - amber),
      eventsIn(topics().community('amber'), amber),
      eventsIn(topics().direct('fbi'), red),
    ]);
    for (const events of read) for (const [id, e] of events) if (expected.has(id)) inKafka.set(id, e);
    expect(inKafka.size).toBe(expected.size);
    const line43 = first.accepted.find((a) => a.line === 43)!;
    expect(indicatorOf(inKafka.get(line43.eventId))).toMatchObject({
      type: 'sha256',
      value: sha256('dropper-43'),
      tlp: 'green',
    });
    expect(new Set(first.accepted.map((a) => a.key)).size).toBe(
      new Set([...inKafka.values()].map((e) => e.payload.key)).size,
    );
    // Nothing of a rejected line was published.
    expect([...inKafka.values()].filter((e) => indicatorOf(e).value.startsWith('rejected-line-'))).toEqual(
      [],
    );
  });

  it('a second run of the same file gets the same eventIds from the idempotency cache and writes nothing', async () => {
    expect(first).toBeDefined();
    const before = await settledWatermarks();
    const again = await publishFile({
      file,
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      batchSize: 500,
      progress: 'none',
    });
    expect(again.accepted).toEqual(first.accepted);
    expect(again.rejected).toEqual(first.rejected);
    expect(await settledWatermarks()).toBe(before);
  });

  it('publishes a CSV file: list cells split on ; and |, a quoted cell over two lines, bad rows reported', async () => {
    const result = await publishFile({
      file: path.join(PUBLISH, 'indicators.csv'),
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      progress: 'none',
    });
    expect(result.format).toBe('csv');
    expect(result.accepted.map((a) => a.line)).toEqual([2, 3, 5, 7, 9]);
    expect(result.rejected).toEqual([
      { line: 6, path: 'tlp', reason: expect.any(String) },
      { line: 8, path: '(line)', reason: expect.stringMatching(/^not a CSV row: Invalid Record Length/) },
    ]);
    const [fbi, green] = await Promise.all([
      eventsIn(topics().direct('fbi'), 1),
      eventsIn(topics().community('green'), 1),
    ]);
    const account = indicatorOf(fbi.get(result.accepted.find((a) => a.line === 3)!.eventId));
    expect(account).toMatchObject({
      value: 'precinct_watch_bot',
      platform: 'twitter',
      recipients: ['fbi', 'dhs'],
      tags: ['bots', 'election-2026'],
      description: 'Bot account that posts\nfalse voting hours in bursts',
    });
    expect(indicatorOf(green.get(result.accepted[0]!.eventId))).toMatchObject({
      value: 'vote-by-text.example.com',
      confidence: 80,
      tags: ['election-2026', 'sms'],
      references: ['https://transparency.example.org/reports/vote-by-text'],
    });
  });

  it('publishes a JSON array file, reporting a bad item at the line where it starts', async () => {
    const result = await publishFile({
      file: path.join(PUBLISH, 'indicators.json'),
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      progress: 'none',
    });
    expect(result.format).toBe('json');
    expect(result.accepted.map((a) => a.line)).toEqual([2, 16, 23]);
    expect(result.rejected).toEqual([
      { line: 10, path: 'value', reason: expect.stringMatching(/hexadecimal/) },
    ]);
  });

  it('publishes a STIX bundle in chunks, each with the markings and relationships its indicators need', async () => {
    const file = path.join(STIX, 'election-disinfo.json');
    const result = await publishFile({
      file,
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      batchSize: 5,
      progress: 'none',
    });
    expect(result.format).toBe('stix');
    expect(result.rejected).toEqual([]);
    expect(result.accepted).toHaveLength(12);
    expect(result.ignored).toHaveLength(19);
    const fbi = await eventsIn(topics().direct('fbi'), 1);
    const account = result.accepted
      .map((a) => fbi.get(a.eventId))
      .filter((e) => e !== undefined)
      .map(indicatorOf);
    // Its campaign and threat actor came from relationships sent along with its chunk.
    expect(account).toEqual([
      expect.objectContaining({ campaign: 'Ballot Echo', threatActor: 'Storm Lantern' }),
    ]);

    const mixed = path.join(STIX, 'mixed.json');
    const text = fs.readFileSync(mixed, 'utf8').split('\n');
    const lineOf = (id: string): number => text.findIndex((l) => l.includes(`"id": "${id}"`)) + 1;
    const objects = readFixture('mixed.json').objects as { id: string }[];
    const m = await publishFile({
      file: mixed,
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      batchSize: 4,
      progress: 'none',
    });
    expect(m.accepted.map((a) => a.line)).toEqual([lineOf(objects[2]!.id), lineOf(objects[13]!.id)]);
    expect([...new Set(m.rejected.map((r) => r.line))]).toEqual(
      [3, 4, 5, 7, 8, 9, 10, 11, 12].map((i) => lineOf(objects[i]!.id)),
    );
    expect(m.rejected.find((r) => r.line === lineOf(objects[12]!.id))).toEqual({
      line: lineOf(objects[12]!.id),
      path: 'object_marking_refs',
      reason: expect.stringMatching(/no TLP marking/),
    });
  });

  it('infers the format from the extension, then from the content', () => {
    expect(inferFormat('feed.jsonl', '[]')).toBe('ndjson');
    expect(inferFormat('feed.CSV', '{}')).toBe('csv');
    expect(inferFormat('export.stix', '')).toBe('stix');
    expect(inferFormat('export.json', '{"type":"bundle","id":"bundle--x","objects":[]}')).toBe('stix');
    expect(inferFormat('one.json', '{"type":"domain"}')).toBe('json');
    expect(inferFormat('feed.json', '{"type":"domain"}\n{"type":"url"}')).toBe('ndjson');
    expect(inferFormat('feed.txt', '  [{"type":"domain"}]')).toBe('json');
    expect(inferFormat('feed.txt', 'type,value\ndomain,a.example.com')).toBe('csv');
    expect(() => inferFormat('feed.txt', 'hello')).toThrow(/give --format/);
  });

  it('halves a batch the producer finds too large until it fits', async () => {
    const big = path.join(tmp, 'big-batches.ndjson');
    const lines = Array.from({ length: 2500 }, (_, i) =>
      JSON.stringify({ type: 'domain', value: `halved-${i}.example.com`, category: 'spam', tlp: 'green' }),
    );
    fs.writeFileSync(big, lines.join('\n'));
    // The producer takes at most 1,000 items a request.
    const result = await publishFile({
      file: big,
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      batchSize: 2000,
      progress: 'none',
    });
    expect(result.rejected).toEqual([]);
    expect(result.failed).toEqual([]);
    expect(result.accepted.map((a) => a.line)).toEqual(lines.map((_, i) => i + 1));
  });

  describe('when the producer says to wait', () => {
    const limitedProducer = async (rateLimitPerMinute: number): Promise<RunningProducer> =>
      startProducer({
        config: { ...net.config, producer: { ...net.config.producer, rateLimitPerMinute } },
        org: 'facebook',
        signingKeyPem: net.signingKeys.facebook!,
        port: 0,
        logger: net.logger,
      });
    const lines = (n: number, name: string): string => {
      const file = path.join(tmp, name);
      fs.writeFileSync(
        file,
        Array.from({ length: n }, (_, i) =>
          JSON.stringify({
            type: 'domain',
            value: `${name}-${i}.example.com`.replace('.ndjson', ''),
            category: 'spam',
            tlp: 'clear',
          }),
        ).join('\n'),
      );
      return file;
    };

    it('retries a 429 after its Retry-After and gets the batch accepted', async () => {
      const limited = await limitedProducer(60);
      try {
        // Empty the key's bucket with requests that cost the producer nothing else.
        await Promise.all(
          Array.from({ length: 60 }, () =>
            fetch(`${limited.url}/v1/indicators`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${net.apiKeys.facebook}`,
                'content-type': 'application/json',
              },
              body: '{}',
            }).then((r) => r.arrayBuffer()),
          ),
        );
        const waits: number[] = [];
        const result = await publishFile({
          file: lines(2, 'retry-after.ndjson'),
          url: limited.url,
          apiKey: net.apiKeys.facebook!,
          batchSize: 1,
          progress: 'none',
          sleep: async (ms) => {
            waits.push(ms);
            await new Promise((r) => setTimeout(r, ms));
          },
        });
        expect(result.failed).toEqual([]);
        expect(result.accepted.map((a) => a.line)).toEqual([1, 2]);
        // One request a second: the producer said wait 1 s, and it was waited.
        expect(waits.length).toBeGreaterThanOrEqual(1);
        expect(waits.every((ms) => ms === 1000)).toBe(true);
      } finally {
        await limited.close();
      }
    });

    it('gives up after the bounded attempts and reports the lines as failed with the reason', async () => {
      const limited = await limitedProducer(1);
      try {
        const waits: number[] = [];
        const result = await publishFile({
          file: lines(3, 'gives-up.ndjson'),
          url: limited.url,
          apiKey: net.apiKeys.facebook!,
          batchSize: 1,
          maxAttempts: 3,
          maxRetryWaitMs: 5000,
          progress: 'none',
          sleep: async (ms) => {
            waits.push(ms);
          },
        });
        expect(result.accepted.map((a) => a.line)).toEqual([1]);
        expect(result.failed).toEqual([
          {
            line: 2,
            path: '(request)',
            reason: expect.stringMatching(/^429 TR_RATE_LIMITED: .*\(gave up after 3 attempts\)$/),
          },
          { line: 3, path: '(request)', reason: expect.stringMatching(/gave up after 3 attempts/) },
        ]);
        // Retry-After is 60 s at one request a minute; the wait is capped at maxRetryWaitMs.
        expect(waits).toEqual([5000, 5000, 5000, 5000]);
        expect(exitCodeOf(result)).toBe(1);
        expect(summarize(result)).toMatch(/^line 2: failed: 429 TR_RATE_LIMITED/m);
      } finally {
        await limited.close();
      }
    });
  });

  describe('the command', () => {
    const run = (
      args: string[],
      env: Record<string, string> = {},
    ): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(
          path.join(ROOT, 'node_modules/.bin/tsx'),
          [path.join(ROOT, 'services/cli/main.ts'), ...args],
          { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
          (err, stdout, stderr) => {
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
          },
        );
      });

    it('exits 1 and prints each rejected line when some lines are rejected', async () => {
      const r = await run(['publish', path.join(PUBLISH, 'indicators.csv'), '--url', producer.url], {
        THREATRELAY_API_KEY: net.apiKeys.facebook!,
      });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^7 record\(s\) read \(csv\): 5 accepted, 2 rejected, 0 failed$/m);
      expect(r.stdout).toMatch(/^line 6: tlp: /m);
      expect(r.stdout).toMatch(/^line 8: \(line\): not a CSV row/m);
    });

    it('exits 0 when every line was accepted', async () => {
      const good = path.join(tmp, 'good.ndjson');
      fs.writeFileSync(good, [goodLine(1), goodLine(2)].map((l) => JSON.stringify(l)).join('\n'));
      const keyFile = path.join(tmp, 'api-key');
      fs.writeFileSync(keyFile, `${net.apiKeys.facebook!}\n`, { mode: 0o600 });
      const r = await run(['publish', good, '--url', producer.url, '--api-key-file', keyFile]);
      expect(r.stdout).toMatch(/2 accepted, 0 rejected, 0 failed/);
      expect(r.code).toBe(0);
    });

    it('reads the API key from stdin with --api-key-file -', async () => {
      const good = path.join(tmp, 'stdin-key.ndjson');
      fs.writeFileSync(good, JSON.stringify(goodLine(3)));
      const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
        const child = execFile(
          path.join(ROOT, 'node_modules/.bin/tsx'),
          [
            path.join(ROOT, 'services/cli/main.ts'),
            'publish',
            good,
            '--url',
            producer.url,
            '--api-key-file',
            '-',
          ],
          { cwd: ROOT, env: { ...process.env, THREATRELAY_API_KEY: '' }, timeout: 60_000 },
          (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
        );
        child.stdin!.end(`${net.apiKeys.facebook!}\n`);
      });
      expect(r.stdout).toMatch(/1 accepted, 0 rejected, 0 failed/);
      expect(r.code).toBe(0);
    });

    it('refuses --api-key KEY with exit 2, saying why and what to use, before sending anything', async () => {
      const good = path.join(tmp, 'argv-key.ndjson');
      fs.writeFileSync(good, JSON.stringify(goodLine(4)));
      const r = await run(['publish', good, '--url', producer.url, '--api-key', net.apiKeys.facebook!]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/visible to every user in ps/);
      expect(r.stderr).toMatch(/THREATRELAY_API_KEY/);
      expect(r.stderr).toMatch(/--api-key-file/);
      expect(r.stdout).toBe('');
    });

    it('exits 2 on a usage error: no such file, a wrong key, an unknown format', async () => {
      const env = { THREATRELAY_API_KEY: net.apiKeys.facebook! };
      const missing = await run(['publish', path.join(tmp, 'nope.ndjson'), '--url', producer.url], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/cannot read/);
      const csv = path.join(PUBLISH, 'indicators.csv');
      const wrongKey = await run(['publish', csv, '--url', producer.url], {
        THREATRELAY_API_KEY: 'trk_nope',
      });
      expect(wrongKey.code).toBe(2);
      expect(wrongKey.stderr).toMatch(/TR_UNAUTHENTICATED/);
      expect((await run(['publish', csv, '--format', 'xml', '--url', producer.url], env)).code).toBe(2);
    });

    it('keys create is keys api', async () => {
      const r = await run(['keys', 'create', '--org', 'facebook']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/trk_facebook_/);
      expect(r.stdout).toMatch(/scopes: \[publish, revoke\]/);
    });
  });
});
