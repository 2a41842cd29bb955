/**
 * MISP events in, against a real broker, a real producer, a real subscriber
 * and a real webhook receiver. The events are PyMISP's own
 * (scripts/oracles/misp_events.py builds them with MISPEvent/MISPObject and
 * writes them with to_json(), to_feed() and PyMISP's feed generator), plus a
 * real CIRCL feed event from PyMISP's test data. Receipts are compared with
 * the mapping table of docs/misp.md, written out here, and with keys
 * recomputed with node:crypto.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isThreatRelayError } from '../../services/contract/errors';
import { kafkaNames } from '../../services/contract/names';
import { publishMisp } from '../../services/cli/publish/misp';
import type { RunningProducer } from '../../services/producer/service';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { oraclePython } from '../../testkit/stix-validator';
import { waitFor } from '../../testkit/wait-for';

const ROOT = path.resolve(__dirname, '../..');
const CIRCL_UUID = '57c4445b-c548-4654-af0b-4be3950d210f';
const CIRCL = path.join(ROOT, `test/fixtures/misp/circl-feed/${CIRCL_UUID}.json`);

interface PyAttribute {
  uuid: string;
  type: string;
  value: string;
  to_ids: boolean;
  tags: string[];
  object?: string;
  relation?: string;
}

interface Receipt {
  uuid: string;
  part: number;
  path: string;
  mispType: string;
  eventId: string;
  key: string;
  records: { topic: string }[];
}

interface Skipped {
  uuid: string;
  why: string;
  code?: string;
  reason: string;
}

interface Answer {
  accepted: number;
  event: string | null;
  receipts: Receipt[];
  skipped: Skipped[];
}

interface Delivered {
  eventId: string;
  key: string;
  indicator: Record<string, unknown> & { value: string };
}

/**
 * docs/misp.md's table: what each |-part of a MISP type becomes (`ip`: ipv4
 * or ipv6 by the value), and for objects, what a relation becomes.
 */
const TYPES: Record<string, (string | null)[]> = {
  domain: ['domain'],
  hostname: ['domain'],
  url: ['url'],
  uri: ['url'],
  link: ['url'],
  'ip-src': ['ip'],
  'ip-dst': ['ip'],
  'ip-src|port': ['ip', null],
  'ip-dst|port': ['ip', null],
  'hostname|port': ['domain', null],
  'domain|ip': ['domain', 'ip'],
  email: ['email'],
  'email-src': ['email'],
  'email-dst': ['email'],
  'email-reply-to': ['email'],
  'whois-registrant-email': ['email'],
  md5: ['md5'],
  sha1: ['sha1'],
  sha256: ['sha256'],
  'filename|md5': [null, 'md5'],
  'filename|sha1': [null, 'sha1'],
  'filename|sha256': [null, 'sha256'],
  AS: ['asn'],
  'phone-number': ['phone'],
  'whois-registrant-phone': ['phone'],
  'twitter-id': ['social_account:twitter'],
  'github-username': ['social_account:github'],
};
const RELATIONS: Record<string, string | null> = {
  'microblog/username': 'social_account:twitter',
  'microblog/hashtag': 'hashtag:twitter',
  'microblog/type': null,
  'twitter-account/name': 'social_account:twitter',
  'facebook-account/account-name': 'social_account:facebook',
  'github-user/username': 'social_account:github',
  'github-user/follower': null,
  'file/filename': null,
};

/** The indicator key, recomputed: SHA-256 of type:value, or type:platform:value for accounts and hashtags. */
function keyOf(target: string, value: string): string {
  const [named, platform] = target.split(':') as [string, string | undefined];
  const type = named === 'ip' ? (value.includes(':') ? 'ipv6' : 'ipv4') : named;
  const identity = platform ? `${type}:${platform}:${value.toLowerCase()}` : `${type}:${value}`;
  return createHash('sha256').update(identity).digest('hex');
}

/** `uuid/part/key` of every indicator an attribute should give. */
function expectedReceipts(a: PyAttribute): string[] {
  const relation = a.object ? RELATIONS[`${a.object}/${a.relation}`] : undefined;
  const parts = relation !== undefined ? [relation] : TYPES[a.type];
  if (!parts) return [];
  const values = parts.length > 1 ? a.value.split('|') : [a.value];
  return parts.flatMap((t, i) => (t ? [`${a.uuid}/${i}/${keyOf(t, values[i]!)}`] : []));
}

const RED = 'red-only.example.com';
const NOT_IDS = 'not-for-detection.example.com';
const INVALID = 'no-public-suffix.invalidtld';

let net: TestNetwork;
let producer: RunningProducer;
let subscriber: RunningSubscriber;
let receiver: Receiver;
let tmp: string;
let attributes: PyAttribute[];
let first: Answer;

beforeAll(async () => {
  receiver = await startReceiver();
  // One partition: a record published after others on a topic is delivered after them.
  net = await createTestNetwork(
    [
      { id: 'facebook', mispDefaultCategory: 'disinformation' },
      { id: 'fbi', kind: 'government' },
      { id: 'dhs', kind: 'government' },
    ],
    [{ id: 'dhs-misp', org: 'dhs', url: `${receiver.url}/ok/dhs` }],
    { partitions: 1, producer: { maxBatchItems: 1000, rateLimitPerMinute: 100_000 } },
  );
  producer = await net.startProducer('facebook');
  subscriber = await startSubscriber({
    dataDir: net.dataDir,
    config: net.config,
    org: 'dhs',
    logger: net.logger,
    port: 0,
  });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'threatrelay-misp-'));
  const out = execFileSync(oraclePython(), [path.join(ROOT, 'scripts/oracles/misp_events.py'), tmp, CIRCL], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  attributes = (JSON.parse(out) as { attributes: PyAttribute[] }).attributes;
}, 240_000);

afterAll(async () => {
  await subscriber?.close();
  await producer?.close();
  await receiver?.close();
  await net?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const names = (): ReturnType<typeof kafkaNames> => kafkaNames(net.prefix);
const file = (name: string): string => fs.readFileSync(path.join(tmp, name), 'utf8');
const byValue = (value: string): PyAttribute => attributes.find((a) => a.value === value)!;

async function postMisp(body: string, query = ''): Promise<Response> {
  return fetch(`${producer.url}/v1/misp/events${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${net.apiKeys.facebook}`, 'content-type': 'application/json' },
    body,
  });
}

async function accepted(body: string, query = ''): Promise<Answer> {
  const res = await postMisp(body, query);
  const answer = (await res.json()) as Answer;
  if (res.status !== 202) throw new Error(`expected 202, got ${res.status}: ${JSON.stringify(answer)}`);
  return answer;
}

function delivered(): Delivered[] {
  return receiver.requests
    .filter((r) => r.status === 200 && r.path === '/ok/dhs')
    .flatMap((r) => (JSON.parse(r.body) as { events: Delivered[] }).events);
}

/** The subscriber's count of records its dedup store dropped with this outcome. */
async function deduplicated(outcome: 'duplicate' | 'republished'): Promise<number> {
  const text = await (await fetch(`${subscriber.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('threatrelay_deduplicated_total{') && l.includes(`outcome="${outcome}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const eventIds = (a: Answer): Record<string, string> =>
  Object.fromEntries(a.receipts.map((r) => [`${r.uuid}/${r.part}`, r.eventId]));

/** One new indicator on each community topic; when all three arrived, everything before them did too. */
async function sentinelsDelivered(tag: string): Promise<void> {
  const values = (['clear', 'green', 'amber'] as const).map((tlp) => ({
    type: 'domain',
    value: `sentinel-${tag}-${tlp}.example.com`,
    category: 'other',
    tlp,
  }));
  const res = await fetch(`${producer.url}/v1/indicators`, {
    method: 'POST',
    headers: { authorization: `Bearer ${net.apiKeys.facebook}`, 'content-type': 'application/json' },
    body: JSON.stringify(values),
  });
  expect(res.status).toBe(202);
  await waitFor(`the ${tag} sentinels at the receiver`, () =>
    values.every((v) => delivered().some((d) => d.indicator.value === v.value)),
  );
}

describe('POST /v1/misp/events', () => {
  it('publishes each attribute of a PyMISP event as the mapping table says', async () => {
    first = await accepted(file('event.json'));
    const refused = new Set([RED, INVALID, NOT_IDS].map((v) => byValue(v).uuid));
    const expected = attributes
      .filter((a) => a.to_ids && !refused.has(a.uuid))
      .flatMap(expectedReceipts)
      .sort();
    expect(first.receipts.map((r) => `${r.uuid}/${r.part}/${r.key}`).sort()).toEqual(expected);
    expect(first.accepted).toBe(expected.length);
    expect(first.event).toBe('6f0b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d');
  });

  it('lists every other attribute with why it was skipped', () => {
    const why = Object.fromEntries(first.skipped.map((s) => [s.uuid, s.why]));
    const told = new Set([...first.receipts.map((r) => r.uuid), ...first.skipped.map((s) => s.uuid)]);
    expect(attributes.filter((a) => !told.has(a.uuid))).toEqual([]);
    for (const type of ['text', 'comment', 'user-agent', 'mutex', 'regkey']) {
      expect(why[attributes.find((a) => a.type === type && !a.object)!.uuid]).toBe('unmapped');
    }
    expect(why[byValue('innocent-bystander').uuid]).toBe('unmapped');
    expect(why[byValue('https://blog.example.org/ballot-report').uuid]).toBe('reference');
    expect(why[byValue(NOT_IDS).uuid]).toBe('not-to-ids');
    expect(first.skipped.find((s) => s.uuid === byValue(RED).uuid)).toMatchObject({
      why: 'refused',
      reason: expect.stringMatching(/^tlp red needs recipients/),
    });
    expect(first.skipped.find((s) => s.uuid === byValue(INVALID).uuid)).toMatchObject({
      why: 'refused',
      code: 'TR_INVALID_VALUE',
    });
  });

  it('routes each attribute by the most restrictive of its and the event’s TLP tags', () => {
    const topicsOf = (value: string): string[] =>
      first.receipts.find((r) => r.uuid === byValue(value).uuid)!.records.map((r) => r.topic);
    expect(topicsOf('203.0.113.9')).toEqual([names().community('amber')]);
    expect(topicsOf('looks-white.example.com')).toEqual([names().community('green')]);
    expect(topicsOf('evil-ballot.example.com')).toEqual([names().community('green')]);
  });

  it('delivers the mapped fields to a subscriber', async () => {
    await waitFor('every receipt at the receiver', () => delivered().length >= first.receipts.length, 60_000);
    expect(
      delivered()
        .map((d) => d.eventId)
        .sort(),
    ).toEqual(first.receipts.map((r) => r.eventId).sort());
    const of = (value: string): Record<string, unknown> =>
      delivered().find((d) => d.indicator.value === value)!.indicator;
    expect(of('https://evil-ballot.example.com/signin')).toMatchObject({
      category: 'phishing',
      confidence: 75,
      severity: 'high',
      tlp: 'green',
      validFrom: '2026-10-01T00:00:00.000Z',
      firstSeen: '2026-10-01T00:00:00.000Z',
      validUntil: '2026-10-20T00:00:00.000Z',
      threatActor: 'Storm Lantern',
      references: ['https://blog.example.org/ballot-report'],
    });
    expect(of('203.0.113.9')).toMatchObject({ category: 'c2', tlp: 'amber' });
    expect(of('evil-ballot.example.com')).toMatchObject({
      category: 'disinformation',
      confidence: 50,
      validFrom: '2026-10-26T07:33:20.000Z',
      description: 'Election lookalike infrastructure\n\ndomain seen in the campaign',
    });
    expect(of('stopthecount2026')).toMatchObject({ type: 'hashtag', platform: 'twitter' });
  }, 90_000);

  it('publishes nothing new when the same event is imported again', async () => {
    const before = { delivered: delivered().length, duplicates: await deduplicated('duplicate') };
    const republished = await deduplicated('republished');
    const again = await accepted(file('event.json'));
    expect(eventIds(again)).toEqual(eventIds(first));
    await sentinelsDelivered('reimport');
    expect(delivered().length).toBe(before.delivered + 3);
    // Dropped as copies of events already seen, not as new reports of known keys.
    expect(await deduplicated('duplicate')).toBe(before.duplicates + again.receipts.length);
    expect(await deduplicated('republished')).toBe(republished);
  }, 90_000);

  it('gives an edited attribute (a later timestamp) a new eventId and keeps the others', async () => {
    const edited = await accepted(file('event-edited.json'));
    const target = attributes.find((a) => a.type === 'domain' && a.value === 'evil-ballot.example.com')!;
    const changed = Object.entries(eventIds(edited)).filter(([at, id]) => eventIds(first)[at] !== id);
    expect(changed.map(([at]) => at)).toEqual([`${target.uuid}/0`]);
    expect(edited.receipts.find((r) => r.uuid === target.uuid)!.key).toBe(
      keyOf('domain', 'evil-ballot-v2.example.com'),
    );
  });

  it('publishes non-IDS attributes at half confidence and TLP:RED ones to the named recipients when asked', async () => {
    const answer = await accepted(file('event.json'), '?recipients=fbi&includeNonIds=true');
    const red = answer.receipts.find((r) => r.uuid === byValue(RED).uuid)!;
    expect(red.records.map((r) => r.topic)).toEqual([names().direct('fbi')]);
    await waitFor('the non-IDS attribute at the receiver', () =>
      delivered().find((d) => d.indicator.value === NOT_IDS),
    );
    expect(delivered().find((d) => d.indicator.value === NOT_IDS)!.indicator.confidence).toBe(25);
    expect(delivered().some((d) => d.indicator.value === RED)).toBe(false);
  }, 60_000);

  it('refuses recipients that are not orgs of the network, naming the parameter', async () => {
    const res = await postMisp(file('event.json'), '?recipients=fbi,nsa');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { path: string; message: string }[] } };
    expect(body.error.details).toEqual([{ path: 'query.recipients.1', message: 'unknown org "nsa"' }]);
  });
});

describe('threatrelay publish --format misp', () => {
  it("publishes a PyMISP feed directory, checked against PyMISP's manifest and hashes.csv", async () => {
    const result = await publishMisp({
      path: path.join(tmp, 'feed'),
      url: producer.url,
      apiKey: net.apiKeys.facebook!,
      recipients: ['fbi'],
    });
    expect(result.feed).toBe(true);
    expect(result.events.map((e) => [e.file, e.status]).sort()).toEqual(
      [
        [`${CIRCL_UUID}.json`, 'accepted'],
        ['6f0b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d.json', 'accepted'],
        ['7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.json', 'accepted'],
      ].sort(),
    );
    const circl = result.events.find((e) => e.file === `${CIRCL_UUID}.json`)!;
    expect(circl.receipts.map((r) => [r.mispType, r.key]).sort()).toEqual(
      [
        ['md5', keyOf('md5', '0749bae92ca336a02c83d126e04ec628')],
        ['sha1', keyOf('sha1', '77b0c41b7d340b8a3d903f21347bbf06aa766b5b')],
        ['sha256', keyOf('sha256', 'b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68')],
      ].sort(),
    );
    expect(circl.skipped.map((s) => s.why).sort()).toEqual([
      'reference',
      'reference',
      'unmapped',
      'unmapped',
      'unmapped',
      'unmapped',
    ]);
  });

  it('maps the real CIRCL feed event: TLP:WHITE as clear, its tags as malware, its links as references', async () => {
    const md5 = await waitFor('the CIRCL md5 at the receiver', () =>
      delivered().find((d) => d.indicator.value === '0749bae92ca336a02c83d126e04ec628'),
    );
    expect(md5.indicator).toMatchObject({
      tlp: 'clear',
      category: 'malware',
      severity: 'low',
      validFrom: '2016-08-29T14:19:55.000Z',
      description: 'Ransomware - Xorist\n\nImported via the Freetext Import Tool',
      references: [
        'https://www.virustotal.com/file/b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68/analysis/1469554268/',
        'http://www.xylibox.com/2011/06/have-fun-with-trojan-ransomwin32xorist.html',
      ],
    });
  }, 60_000);

  it('refuses a feed whose hashes.csv does not match its events, naming the line, and publishes nothing', async () => {
    const feed = path.join(tmp, 'tampered');
    fs.cpSync(path.join(tmp, 'feed'), feed, { recursive: true });
    const lines = fs.readFileSync(path.join(feed, 'hashes.csv'), 'utf8').split('\n');
    const at = lines.findIndex((l) => l.endsWith(CIRCL_UUID));
    lines[at] = `${'0'.repeat(32)},${CIRCL_UUID}`;
    fs.writeFileSync(path.join(feed, 'hashes.csv'), lines.join('\n'));
    const topics = [names().community('clear'), names().community('green'), names().community('amber')];
    const before = await net.highWatermarks(topics);
    const err = await publishMisp({ path: feed, url: producer.url, apiKey: net.apiKeys.facebook! }).catch(
      (e: unknown) => e,
    );
    expect(isThreatRelayError(err, 'TR_USAGE')).toBe(true);
    expect((err as Error).message).toContain(
      `hashes.csv line ${at + 1}: ${'0'.repeat(32)} for event ${CIRCL_UUID}`,
    );
    expect((err as Error).message).toMatch(
      new RegExp(`${CIRCL_UUID}\\.json: Event\\.Attribute\\.\\d+\\.value has MD5`),
    );
    expect(await net.highWatermarks(topics)).toBe(before);
  });

  it('runs from the command line: a refused attribute exits 1 and is named', async () => {
    const run = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        path.join(ROOT, 'node_modules/.bin/tsx'),
        [
          path.join(ROOT, 'services/cli/main.ts'),
          'publish',
          path.join(tmp, 'event.json'),
          '--format',
          'misp',
          '--url',
          producer.url,
        ],
        { cwd: ROOT, env: { ...process.env, THREATRELAY_API_KEY: net.apiKeys.facebook! }, timeout: 60_000 },
        (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`${byValue(RED).uuid} `);
    expect(run.stdout).toMatch(/tlp red needs recipients/);
  }, 60_000);
});
