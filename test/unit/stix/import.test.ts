/**
 * STIX 2.1 bundles to indicators: each pattern kind, each TLP marking, and
 * every object that does not map, with its reason. The bundles built here
 * and the fixtures are checked to be valid STIX 2.1 by an independent
 * implementation, OASIS's stix2-validator (testkit/stix-validator.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ThreatRelayError, isThreatRelayError } from '../../../services/contract/errors';
import { contextObjectIds } from '../../../services/stix/bundle';
import { mapStixBundle, type StixImport } from '../../../services/stix/import';
import { TLP1_MARKING_IDS, TLP2_MARKING_IDS } from '../../../services/stix/markings';
import { oraclePython, stixValidationErrors } from '../../../testkit/stix-validator';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/stix');
const EXT = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';
const CREATED = '2026-10-27T14:05:00.000Z';

let serial = 0;
const stixId = (type: string): string =>
  `${type}--6b1e3a52-0f4c-4d2e-9a7b-${(++serial).toString(16).padStart(12, '0')}`;

type Obj = Record<string, unknown>;

function indicator(pattern: string, extra: Obj = {}): Obj {
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: stixId('indicator'),
    created: CREATED,
    modified: CREATED,
    name: 'Lookalike county election office site',
    description: 'Spreads false polling-place changes.',
    indicator_types: ['malicious-activity'],
    pattern,
    pattern_type: 'stix',
    valid_from: '2026-10-27T14:00:00Z',
    object_marking_refs: [TLP2_MARKING_IDS.green],
    ...extra,
  };
}

function sdo(type: string, extra: Obj = {}): Obj {
  return { type, spec_version: '2.1', id: stixId(type), created: CREATED, modified: CREATED, ...extra };
}

function indicates(source: Obj, target: Obj): Obj {
  return sdo('relationship', {
    relationship_type: 'indicates',
    source_ref: source.id,
    target_ref: target.id,
  });
}

function bundle(...objects: unknown[]): Obj {
  return { type: 'bundle', id: stixId('bundle'), objects };
}

/** Bundles the oracle checks: everything built in this file that is meant to be valid STIX. */
const validStix: Obj[] = [];
function valid(b: Obj): Obj {
  validStix.push(b);
  return b;
}

function only(result: StixImport): StixImport['indicators'][number]['input'] {
  expect(result.rejected).toEqual([]);
  expect(result.indicators).toHaveLength(1);
  return result.indicators[0]!.input;
}

const SHA256 = 'a3f1c2d4e5b60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00';

describe('patterns that map to one indicator', () => {
  const cases: [string, string, Obj, { type: string; value: string; platform?: string }][] = [
    [
      'a domain',
      "[domain-name:value = 'countyelections-results.example.net']",
      {},
      { type: 'domain', value: 'countyelections-results.example.net' },
    ],
    [
      'a URL',
      "[url:value = 'https://polling-place-update.example.com/changes?county=lakeview']",
      {},
      { type: 'url', value: 'https://polling-place-update.example.com/changes?county=lakeview' },
    ],
    [
      'a URL with an escaped quote',
      "[url:value = 'https://ballot-faq.example.com/what\\'s-new']",
      {},
      { type: 'url', value: "https://ballot-faq.example.com/what's-new" },
    ],
    ['an IPv4 address', "[ipv4-addr:value = '203.0.113.45']", {}, { type: 'ipv4', value: '203.0.113.45' }],
    [
      'an IPv4 network',
      "[ipv4-addr:value = '198.51.100.0/24']",
      {},
      { type: 'cidr', value: '198.51.100.0/24' },
    ],
    ['an IPv6 address', "[ipv6-addr:value = '2001:db8::45']", {}, { type: 'ipv6', value: '2001:db8::45' }],
    [
      'an IPv6 network',
      "[ipv6-addr:value = '2001:db8:4f00::/48']",
      {},
      { type: 'cidr', value: '2001:db8:4f00::/48' },
    ],
    [
      'an email address',
      "[email-addr:value = 'registrar-notice@county-elections.example.org']",
      {},
      { type: 'email', value: 'registrar-notice@county-elections.example.org' },
    ],
    [
      "a file's SHA-256 (quoted)",
      `[file:hashes.'SHA-256' = '${SHA256}']`,
      {},
      { type: 'sha256', value: SHA256 },
    ],
    [
      "a file's SHA256 (unquoted)",
      `[file:hashes.SHA256 = '${SHA256}']`,
      {},
      { type: 'sha256', value: SHA256 },
    ],
    [
      "a file's SHA-1",
      "[file:hashes.'SHA-1' = 'fe3836702ead50b5b6386984383d531b53a829a5']",
      {},
      { type: 'sha1', value: 'fe3836702ead50b5b6386984383d531b53a829a5' },
    ],
    [
      "a file's SHA1 (unquoted)",
      "[file:hashes.SHA1 = 'fe3836702ead50b5b6386984383d531b53a829a5']",
      {},
      { type: 'sha1', value: 'fe3836702ead50b5b6386984383d531b53a829a5' },
    ],
    [
      "a file's MD5",
      "[file:hashes.MD5 = '72C16511E6F046455C8DD2C95B58EFD9']",
      {},
      { type: 'md5', value: '72C16511E6F046455C8DD2C95B58EFD9' },
    ],
    ["an image's PDQ hash", `[file:hashes.PDQ = '${SHA256}']`, {}, { type: 'pdq', value: SHA256 }],
    ["an artifact's PDQ hash", `[artifact:hashes.'PDQ' = '${SHA256}']`, {}, { type: 'pdq', value: SHA256 }],
    ['an autonomous system', '[autonomous-system:number = 64500]', {}, { type: 'asn', value: '64500' }],
    [
      'an account with its account_type',
      "[user-account:account_login = 'precinct_watch_bot' AND user-account:account_type = 'twitter']",
      {},
      { type: 'social_account', value: 'precinct_watch_bot', platform: 'twitter' },
    ],
    [
      "an account typed 'x' (Twitter's new name)",
      "[user-account:account_type = 'x' AND user-account:account_login = 'precinct_watch_bot']",
      {},
      { type: 'social_account', value: 'precinct_watch_bot', platform: 'twitter' },
    ],
    [
      'an account with x_threatrelay_platform',
      "[user-account:account_login = 'real.voter.news']",
      { x_threatrelay_platform: 'tiktok' },
      { type: 'social_account', value: 'real.voter.news', platform: 'tiktok' },
    ],
    [
      'a parenthesized comparison',
      "[(domain-name:value = 'sos-voter-lookup.example.com')]",
      {},
      { type: 'domain', value: 'sos-voter-lookup.example.com' },
    ],
    [
      'no pattern_type (STIX 2.0 style)',
      "[domain-name:value = 'sos-voter-lookup.example.com']",
      { pattern_type: undefined },
      { type: 'domain', value: 'sos-voter-lookup.example.com' },
    ],
  ];

  it.each(cases)('%s', (_name, pattern, extra, expected) => {
    const ind = indicator(pattern, extra);
    if (extra.pattern_type === undefined && 'pattern_type' in extra) delete ind.pattern_type;
    else valid(bundle(ind));
    const input = only(mapStixBundle(bundle(ind)));
    expect({
      type: input.type,
      value: input.value,
      ...(input.platform ? { platform: input.platform } : {}),
    }).toEqual(expected);
  });
});

describe('TLP from object_marking_refs', () => {
  const recipients = { x_threatrelay_recipients: ['fbi'] };
  const cases: [string, string, string, Obj][] = [
    ['TLP 2.0 CLEAR', TLP2_MARKING_IDS.clear, 'clear', {}],
    ['TLP 2.0 GREEN', TLP2_MARKING_IDS.green, 'green', {}],
    ['TLP 2.0 AMBER', TLP2_MARKING_IDS.amber, 'amber', {}],
    ['TLP 2.0 AMBER+STRICT', TLP2_MARKING_IDS['amber+strict'], 'amber+strict', recipients],
    ['TLP 2.0 RED', TLP2_MARKING_IDS.red, 'red', recipients],
    ['TLP 1.0 WHITE', TLP1_MARKING_IDS.white, 'clear', {}],
    ['TLP 1.0 GREEN', TLP1_MARKING_IDS.green, 'green', {}],
    ['TLP 1.0 AMBER', TLP1_MARKING_IDS.amber, 'amber', {}],
    ['TLP 1.0 RED', TLP1_MARKING_IDS.red, 'red', recipients],
  ];

  it.each(cases)('%s', (_name, marking, tlp, extra) => {
    const b = valid(
      bundle(
        indicator("[domain-name:value = 'vote-by-text.example.com']", {
          object_marking_refs: [marking],
          ...extra,
        }),
      ),
    );
    const input = only(mapStixBundle(b));
    expect(input.tlp).toBe(tlp);
    expect(input.recipients).toEqual(extra.x_threatrelay_recipients);
  });

  it('publishes the hard-coded ids OASIS publishes for TLP 2.0 and STIX 2.1 predefines for TLP 1.0', () => {
    expect(TLP2_MARKING_IDS).toEqual({
      clear: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
      green: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
      amber: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
      'amber+strict': 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
      red: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1',
    });
    expect(TLP1_MARKING_IDS).toEqual({
      white: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
      green: 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
      amber: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
      red: 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
    });
  });

  it('reads a TLP marking the bundle defines itself under its own id', () => {
    const legacy = sdo('marking-definition', { definition_type: 'tlp', definition: { tlp: 'amber' } });
    delete legacy.modified;
    const viaExtension = sdo('marking-definition', {
      name: 'TLP:AMBER+STRICT',
      extensions: { [EXT]: { extension_type: 'property-extension', tlp_2_0: 'amber+strict' } },
    });
    delete viaExtension.modified;
    const result = mapStixBundle(
      bundle(
        legacy,
        viaExtension,
        indicator("[domain-name:value = 'a.example.com']", { object_marking_refs: [legacy.id] }),
        indicator("[domain-name:value = 'b.example.com']", {
          object_marking_refs: [viaExtension.id],
          x_threatrelay_recipients: ['dhs'],
        }),
      ),
    );
    expect(result.rejected).toEqual([]);
    expect(result.indicators.map((i) => i.input.tlp)).toEqual(['amber', 'amber+strict']);
  });

  it('keeps the standard meaning of a standard id that a bundle redefines', () => {
    const forged = {
      type: 'marking-definition',
      spec_version: '2.1',
      id: TLP2_MARKING_IDS.red,
      created: CREATED,
      name: 'TLP:CLEAR',
      extensions: { [EXT]: { extension_type: 'property-extension', tlp_2_0: 'clear' } },
    };
    const result = mapStixBundle(
      bundle(
        forged,
        indicator("[domain-name:value = 'a.example.com']", { object_marking_refs: [forged.id] }),
      ),
    );
    expect(result.rejected.map((r) => r.reason)).toEqual(['required for tlp red']);
  });

  it('accepts the same level marked twice (TLP 1.0 and 2.0 GREEN)', () => {
    const b = valid(
      bundle(
        indicator("[domain-name:value = 'a.example.com']", {
          object_marking_refs: [TLP1_MARKING_IDS.green, TLP2_MARKING_IDS.green],
        }),
      ),
    );
    expect(only(mapStixBundle(b)).tlp).toBe('green');
  });

  it('ignores markings that are not TLP (a statement) next to a TLP one', () => {
    const statement = sdo('marking-definition', {
      definition_type: 'statement',
      definition: { statement: 'Copyright 2026, Example Platform' },
    });
    delete statement.modified;
    const b = valid(
      bundle(
        statement,
        indicator("[domain-name:value = 'a.example.com']", {
          object_marking_refs: [statement.id, TLP2_MARKING_IDS.amber],
        }),
      ),
    );
    expect(only(mapStixBundle(b)).tlp).toBe('amber');
  });
});

describe('the other fields', () => {
  it('maps confidence, validity, labels, name and description, references, campaign and threat actor', () => {
    const campaign = sdo('campaign', { name: 'Ballot Echo' });
    const actor = sdo('intrusion-set', { name: 'Storm Lantern' });
    const ind = indicator("[domain-name:value = 'countyelections-results.example.net']", {
      confidence: 85,
      valid_from: '2026-10-27T14:00:00Z',
      valid_until: '2026-11-30T00:00:00Z',
      labels: ['disinformation', 'election-2026'],
      external_references: [
        { source_name: 'internal-case', external_id: 'CASE-4471' },
        { source_name: 'transparency-report', url: 'https://transparency.example.org/reports/ballot-echo' },
      ],
      x_threatrelay_severity: 'high',
    });
    const b = valid(bundle(ind, campaign, actor, indicates(ind, campaign), indicates(ind, actor)));
    expect(only(mapStixBundle(b))).toEqual({
      type: 'domain',
      value: 'countyelections-results.example.net',
      category: 'disinformation',
      tlp: 'green',
      confidence: 85,
      severity: 'high',
      validFrom: '2026-10-27T14:00:00Z',
      validUntil: '2026-11-30T00:00:00Z',
      tags: ['disinformation', 'election-2026'],
      description: 'Lookalike county election office site\n\nSpreads false polling-place changes.',
      references: ['https://transparency.example.org/reports/ballot-echo'],
      campaign: 'Ballot Echo',
      threatActor: 'Storm Lantern',
    });
  });

  it('takes the name as the description when there is no description, and defaults confidence to 50', () => {
    const ind = indicator("[domain-name:value = 'a.example.com']");
    delete ind.description;
    const input = only(mapStixBundle(valid(bundle(ind))));
    expect(input.description).toBe('Lookalike county election office site');
    expect(input.confidence).toBe(50);
  });

  const category: [string, Obj, Obj[], string][] = [
    [
      'x_threatrelay_category over everything',
      { x_threatrelay_category: 'influence_operation', labels: ['phishing'] },
      [],
      'influence_operation',
    ],
    [
      'a label that names a category',
      { labels: ['election-2026', 'Coordinated-Inauthentic-Behavior'] },
      [],
      'coordinated_inauthentic_behavior',
    ],
    ['indicates malware', {}, [sdo('malware', { name: 'PollWorkerRAT', is_family: true })], 'malware'],
    [
      'indicates command-and-control infrastructure',
      {},
      [sdo('infrastructure', { name: 'controller', infrastructure_types: ['command-and-control'] })],
      'c2',
    ],
    [
      'indicates phishing infrastructure',
      {},
      [sdo('infrastructure', { name: 'lure site', infrastructure_types: ['phishing'] })],
      'phishing',
    ],
    ['indicator_types alone', { indicator_types: ['attribution'] }, [], 'other'],
    ['no hint at all', { indicator_types: undefined }, [], 'other'],
  ];

  it.each(category)('category from %s', (_name, extra, targets, expected) => {
    const ind = indicator("[domain-name:value = 'a.example.com']", extra);
    if (extra.indicator_types === undefined && 'indicator_types' in extra) delete ind.indicator_types;
    const b = bundle(ind, ...targets, ...targets.map((t) => indicates(ind, t)));
    if ('indicator_types' in ind) valid(b);
    expect(only(mapStixBundle(b)).category).toBe(expected);
  });
});

describe('objects that do not map are reported with their reason', () => {
  const cases: [string, Obj | string, string, RegExp, boolean?][] = [
    [
      'OR',
      "[domain-name:value = 'a.example.com'] OR [domain-name:value = 'b.example.com']",
      'pattern',
      /^OR matches any of several things/,
    ],
    [
      'OR inside one observation',
      "[domain-name:value = 'a.example.com' OR domain-name:value = 'b.example.com']",
      'pattern',
      /^OR/,
    ],
    [
      'FOLLOWEDBY',
      `[url:value = 'https://ballot-tracker.example.com/login'] FOLLOWEDBY [file:hashes.'SHA-256' = '${SHA256}']`,
      'pattern',
      /^FOLLOWEDBY/,
    ],
    ['a WITHIN qualifier', "[domain-name:value = 'a.example.com'] WITHIN 300 SECONDS", 'pattern', /WITHIN/],
    ['a REPEATS qualifier', "[domain-name:value = 'a.example.com'] REPEATS 5 TIMES", 'pattern', /REPEATS/],
    [
      'two observations ANDed',
      "[domain-name:value = 'a.example.com'] AND [url:value = 'https://a.example.com/']",
      'pattern',
      /joins 2 observation expressions/,
    ],
    ['NOT', "[domain-name:value NOT = 'a.example.com']", 'pattern', /^NOT/],
    ['LIKE', "[domain-name:value LIKE '%.example.com']", 'pattern', /^LIKE matches many values/],
    ['MATCHES', "[domain-name:value MATCHES '^vote-.*\\\\.example\\\\.com$']", 'pattern', /^MATCHES/],
    ['IN', "[ipv4-addr:value IN ('203.0.113.1', '203.0.113.2')]", 'pattern', /^IN matches a set/],
    ['ISSUBSET', "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", 'pattern', /publish the network as a CIDR/],
    ['!=', "[domain-name:value != 'a.example.com']", 'pattern', /operator != matches many values/],
    ['>', '[autonomous-system:number > 64500]', 'pattern', /operator > matches many values/],
    [
      'a property with no indicator type',
      "[process:name = 'schedule.pdf.exe']",
      'pattern',
      /process:name does not map/,
    ],
    ['a file name', "[file:name = 'schedule.pdf.exe']", 'pattern', /file:name does not map/],
    [
      'a hash algorithm with no type',
      `[file:hashes.'SHA-512' = '${SHA256}${SHA256}']`,
      'pattern',
      /hash algorithm SHA-512 has no indicator type/,
    ],
    [
      'an account_type that is no platform',
      "[user-account:account_login = 'root' AND user-account:account_type = 'unix']",
      'pattern',
      /account_type 'unix' is not a platform/,
    ],
    [
      'two values ANDed',
      "[domain-name:value = 'a.example.com' AND domain-name:value = 'b.example.com']",
      'pattern',
      /ANDs several comparisons/,
    ],
    ['a number where a string belongs', '[ipv4-addr:value = 5]', 'pattern', /takes a string value/],
    ['a binary literal', "[file:hashes.MD5 = b'cXVpY2sgYnJvd24=']", 'pattern', /binary literal/, false],
    [
      'a syntax error',
      "[domain-name:value = 'a.example.com]",
      'pattern',
      /not valid STIX patterning: an unterminated string/,
      false,
    ],
    [
      'a Sigma rule',
      { pattern_type: 'sigma', pattern: 'title: x\ndetection:\n  sel:\n    Image: a\n  condition: sel' },
      'pattern_type',
      /"sigma" is not supported/,
    ],
    [
      'a YARA rule',
      { pattern_type: 'yara', pattern: 'rule ballot { condition: true }' },
      'pattern_type',
      /"yara" is not supported/,
    ],
    ['a revoked indicator', { revoked: true }, 'revoked', /withdraw it with POST \/v1\/indicators\/revoke/],
    [
      'a benign indicator',
      { indicator_types: ['benign'] },
      'indicator_types',
      /benign indicator is not a threat/,
    ],
    ['no TLP marking', { object_marking_refs: undefined }, 'object_marking_refs', /no TLP marking/],
    [
      'conflicting TLP markings',
      { object_marking_refs: [TLP2_MARKING_IDS.green, TLP2_MARKING_IDS.red] },
      'object_marking_refs',
      /conflicting TLP markings \(green, red\)/,
    ],
    [
      'TLP:RED without recipients',
      { object_marking_refs: [TLP2_MARKING_IDS.red] },
      'x_threatrelay_recipients',
      /required for tlp red/,
    ],
    [
      'TLP:AMBER+STRICT without recipients',
      { object_marking_refs: [TLP2_MARKING_IDS['amber+strict']] },
      'x_threatrelay_recipients',
      /required for tlp amber\+strict/,
    ],
    [
      'recipients on TLP:GREEN',
      { x_threatrelay_recipients: ['fbi'] },
      'x_threatrelay_recipients',
      /only allowed for tlp amber\+strict and red/,
    ],
    [
      'a misspelt custom property',
      { x_threatrelay_recipient: ['fbi'] },
      'x_threatrelay_recipient',
      /unknown property/,
    ],
    ['an unknown category', { x_threatrelay_category: 'propaganda' }, 'x_threatrelay_category', /./],
    [
      'labels naming two categories',
      { labels: ['phishing', 'malware'] },
      'labels',
      /several categories \(phishing, malware\)/,
    ],
    [
      'valid_until before valid_from',
      { valid_until: '2026-10-01T00:00:00Z' },
      'valid_until',
      /must be after validFrom/,
      false,
    ],
    ['confidence over 100', { confidence: 150 }, 'confidence', /100/, false],
    [
      'a reference that is not http(s)',
      {
        external_references: [
          { source_name: 'a', external_id: 'x' },
          { source_name: 'b', url: 'ftp://files.example.com/x' },
        ],
      },
      'external_references.1.url',
      /./,
    ],
  ];

  it.each(cases)('%s', (_name, change, where, reason, stixValid = true) => {
    const ind =
      typeof change === 'string'
        ? indicator(change)
        : indicator("[domain-name:value = 'countyelections-results.example.net']", change);
    if (typeof change !== 'string') {
      for (const [k, v] of Object.entries(change)) if (v === undefined) delete ind[k];
    }
    const b = bundle(sdo('identity', { name: 'Example Platform', identity_class: 'organization' }), ind);
    if (stixValid) valid(b);
    const result = mapStixBundle(b);
    expect(result.indicators).toEqual([]);
    expect(result.rejected).toEqual([
      expect.objectContaining({
        index: 1,
        id: ind.id,
        path: `objects.1.${where}`,
        reason: expect.stringMatching(reason),
      }),
    ]);
    expect(result.ignored).toEqual([{ index: 0, id: (b.objects as Obj[])[0]!.id, type: 'identity' }]);
  });

  // The last flag: whether the pattern is still valid STIX (patterning checks hash syntax itself).
  const values: [string, string, string, RegExp, boolean][] = [
    [
      'a domain that is not under a public suffix',
      "[domain-name:value = 'results.election-night']",
      'pattern',
      /Public Suffix List/,
      true,
    ],
    ['a SHA-256 of the wrong length', "[file:hashes.'SHA-256' = 'abc123']", 'pattern', /64/, false],
    ['an IPv4 address out of range', "[ipv4-addr:value = '203.0.113.300']", 'pattern', /./, true],
    ['an AS number out of range', '[autonomous-system:number = 0]', 'pattern', /AS0 is reserved/, true],
  ];

  it.each(values)('an invalid value: %s', (_name, pattern, where, reason, stixValid) => {
    const ind = indicator(pattern);
    const b = bundle(ind);
    if (stixValid) valid(b);
    const result = mapStixBundle(b);
    expect(result.rejected).toEqual([
      {
        index: 0,
        id: ind.id,
        path: `objects.0.${where}`,
        code: 'TR_INVALID_VALUE',
        reason: expect.stringMatching(reason),
        indicatorType: expect.any(String),
      },
    ]);
  });

  it('an invalid platform from x_threatrelay_platform is reported there', () => {
    const ind = indicator("[user-account:account_login = 'real.voter.news']", {
      x_threatrelay_platform: 'myspace',
    });
    const result = mapStixBundle(bundle(ind));
    expect(result.rejected.map((r) => r.path)).toEqual(['objects.0.x_threatrelay_platform']);
  });

  it('an account pattern without any platform is reported', () => {
    const result = mapStixBundle(bundle(indicator("[user-account:account_login = 'real.voter.news']")));
    expect(result.rejected.map((r) => [r.path, r.reason])).toEqual([
      ['objects.0.pattern', expect.stringMatching(/an account needs its platform/)],
    ]);
  });

  it('x_threatrelay_platform that contradicts account_type is reported', () => {
    const ind = indicator(
      "[user-account:account_login = 'precinct_watch_bot' AND user-account:account_type = 'twitter']",
      { x_threatrelay_platform: 'facebook' },
    );
    const result = mapStixBundle(bundle(ind));
    expect(result.rejected.map((r) => r.path)).toEqual(['objects.0.x_threatrelay_platform']);
  });

  it('reports every problem of one object, each with its path', () => {
    const ind = indicator("[domain-name:value LIKE '%.example.com']", {
      object_marking_refs: [],
      indicator_types: ['benign'],
    });
    const result = mapStixBundle(bundle(ind));
    expect(result.rejected.map((r) => r.path).sort()).toEqual([
      'objects.0.indicator_types',
      'objects.0.object_marking_refs',
      'objects.0.pattern',
    ]);
  });

  it('rejects entries that are not STIX objects and indicators without an id, by index', () => {
    const noId = indicator("[domain-name:value = 'a.example.com']");
    delete noId.id;
    const result = mapStixBundle(bundle(42, { id: 'x' }, noId));
    expect(result.rejected).toEqual([
      expect.objectContaining({
        index: 0,
        id: null,
        path: 'objects.0',
        reason: expect.stringMatching(/not a STIX object/),
      }),
      expect.objectContaining({ index: 1, id: 'x', path: 'objects.1' }),
      expect.objectContaining({ index: 2, id: null, path: 'objects.2.id' }),
    ]);
  });
});

describe('bundles', () => {
  it('refuses a body that is not a bundle with TR_VALIDATION, saying where', () => {
    const where = (body: unknown): string | undefined => {
      try {
        mapStixBundle(body);
      } catch (err) {
        if (!isThreatRelayError(err, 'TR_VALIDATION')) throw err;
        expect(err.message).toBe('the body is not a STIX bundle');
        expect(err.details).toHaveLength(1);
        return err.details[0]!.path;
      }
      return undefined;
    };
    expect(where([indicator("[domain-name:value = 'a.example.com']")])).toBe('type');
    expect(where({ type: 'indicator' })).toBe('type');
    expect(where({ type: 'bundle', id: 'bundle--1', objects: [] })).toBe('id');
    expect(where({ type: 'bundle', id: stixId('bundle'), objects: {} })).toBe('objects');
    expect(mapStixBundle({ type: 'bundle', id: stixId('bundle') })).toEqual({
      indicators: [],
      rejected: [],
      ignored: [],
      indicatorObjects: 0,
    });
  });

  it('maps every indicator of the election-disinformation fixture, with context from the bundle', () => {
    const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'election-disinfo.json'), 'utf8')) as Obj;
    const result = mapStixBundle(fixture);
    expect(result.rejected).toEqual([]);
    expect(result.indicatorObjects).toBe(12);
    expect(result.ignored.map((i) => i.type).sort()).toEqual(
      [
        'campaign',
        'identity',
        'infrastructure',
        'intrusion-set',
        'malware',
        ...Array(5).fill('marking-definition'),
        ...Array(9).fill('relationship'),
      ].sort(),
    );
    const byType = Object.fromEntries(
      result.indicators.map((i) => [
        `${i.input.type}${i.input.platform ? `:${i.input.platform}` : ''}`,
        i.input,
      ]),
    );
    expect(Object.keys(byType).sort()).toEqual(
      [
        'asn',
        'cidr',
        'domain',
        'email',
        'ipv4',
        'md5',
        'pdq',
        'sha1',
        'sha256',
        'social_account:tiktok',
        'social_account:twitter',
        'url',
      ].sort(),
    );
    expect(byType['social_account:tiktok']).toMatchObject({
      tlp: 'clear',
      category: 'coordinated_inauthentic_behavior',
    });
    expect(byType['social_account:twitter']).toMatchObject({
      platform: 'twitter',
      tlp: 'red',
      recipients: ['fbi', 'dhs'],
      category: 'coordinated_inauthentic_behavior',
      threatActor: 'Storm Lantern',
      campaign: 'Ballot Echo',
      severity: 'high',
    });
    expect(byType.pdq).toMatchObject({
      tlp: 'amber+strict',
      recipients: ['dhs'],
      category: 'manipulated_media',
    });
    expect(byType.sha256).toMatchObject({ tlp: 'green', category: 'malware' });
    expect(byType.ipv4).toMatchObject({ tlp: 'amber', category: 'c2' });
  });

  it('reports the mixed fixture object by object', () => {
    const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'mixed.json'), 'utf8')) as Obj;
    const result = mapStixBundle(fixture);
    expect(result.indicators.map((i) => i.index)).toEqual([2, 13]);
    expect(result.rejected.map((r) => r.index)).toEqual([3, 4, 5, 7, 8, 9, 10, 11, 12]);
    expect(result.ignored.map((i) => i.type)).toEqual([
      'identity',
      'marking-definition',
      'note',
      'relationship',
      'campaign',
    ]);
  });

  it('names the context objects a chunk of indicators needs: markings, relationships and their targets', () => {
    const marking = sdo('marking-definition', { definition_type: 'tlp', definition: { tlp: 'amber' } });
    const campaign = sdo('campaign', { name: 'Ballot Echo' });
    const a = indicator("[domain-name:value = 'a.example.com']", { object_marking_refs: [marking.id] });
    const b = indicator("[domain-name:value = 'b.example.com']");
    const rel = indicates(a, campaign);
    const objects = [marking, campaign, a, b, rel, indicates(b, sdo('campaign'))];
    expect([...contextObjectIds([a], objects)].sort()).toEqual([marking.id, campaign.id, rel.id].sort());
  });
});

describe('large bundles', () => {
  it('imports a bundle with 20,000 indicates relationships from one indicator', () => {
    const ind = indicator("[domain-name:value = 'countyelections-results.example.net']");
    const campaign = sdo('campaign', { name: 'Ballot Echo' });
    const missing = { id: 'campaign--00000000-0000-4000-8000-000000000000' };
    const relationships = Array.from({ length: 20_000 }, (_, i) =>
      indicates(ind, i === 0 ? campaign : missing),
    );
    const objects = [ind, campaign, ...relationships];
    const result = mapStixBundle(bundle(...objects));
    expect(only(result).campaign).toBe('Ballot Echo');
    expect(result.ignored).toHaveLength(20_001);
    expect(contextObjectIds([ind], objects).size).toBe(20_001);
  });

  /** An indicator that counts how often its pattern is read, which mapping it does. */
  function watched(reads: { count: number }): Obj {
    const ind = indicator("[domain-name:value = 'a.example.com']");
    delete ind.pattern;
    Object.defineProperty(ind, 'pattern', {
      enumerable: true,
      get: () => {
        reads.count++;
        return "[domain-name:value = 'a.example.com']";
      },
    });
    return ind;
  }

  it('gives checkCount the number of indicator objects and refuses the bundle before mapping any', () => {
    const reads = { count: 0 };
    const noId = indicator("[domain-name:value = 'b.example.com']");
    delete noId.id;
    const b = bundle(watched(reads), watched(reads), noId, sdo('identity'), 42);
    const tooMany = new ThreatRelayError('TR_VALIDATION', 'a batch holds at most 2 items', {
      details: [{ path: 'objects', message: 'has 3 items, the limit is 2' }],
    });
    const counts: number[] = [];
    const check = (count: number): void => {
      counts.push(count);
      if (count > 2) throw tooMany;
    };
    let thrown: unknown;
    try {
      mapStixBundle(b, check);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBe(tooMany);
    expect(counts).toEqual([3]);
    expect(reads.count).toBe(0);
  });

  it('maps the bundle when checkCount lets it through', () => {
    const reads = { count: 0 };
    const result = mapStixBundle(bundle(watched(reads)), () => undefined);
    expect(result.indicators).toHaveLength(1);
    expect(reads.count).toBeGreaterThan(0);
  });
});

describe('the bundles are valid STIX 2.1 for OASIS stix2-validator', () => {
  let python = '';

  beforeAll(() => {
    python = oraclePython();
  }, 180_000);

  it('validates every fixture and every bundle this file builds as valid', () => {
    expect(validStix.length).toBeGreaterThan(40);
    const inputs = [...fs.readdirSync(FIXTURES).map((f) => path.join(FIXTURES, f)), ...validStix];
    const errors = stixValidationErrors(python, inputs);
    const invalid = inputs
      .map((input, i) => [typeof input === 'string' ? input : JSON.stringify(input), errors[i]] as const)
      .filter(([, e]) => e!.length > 0);
    expect(invalid).toEqual([]);
  });
});
