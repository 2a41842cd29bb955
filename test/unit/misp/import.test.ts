/**
 * MISP events to indicators: the type table (each MISP type and each
 * composite part), the object relations, TLP from tags, to_ids, category,
 * confidence and the dates, each against a hand-written event. The
 * integration test (test/integration/misp-import.test.ts) checks the same
 * table against events PyMISP itself writes.
 */
import { canonicalize } from '../../../services/contract/canonical';
import { isThreatRelayError } from '../../../services/contract/errors';
import { mapMispEvent, type MispImport, type MispImportOptions } from '../../../services/misp/import';

type Obj = Record<string, unknown>;

let serial = 0;
const uuid = (): string => `5a1b2c3d-4e5f-4a6b-8c7d-${(++serial).toString(16).padStart(12, '0')}`;

function attribute(type: string, value: string, extra: Obj = {}): Obj {
  return {
    uuid: uuid(),
    type,
    value,
    category: 'Network activity',
    to_ids: true,
    timestamp: '1793000000',
    ...extra,
  };
}

function event(attributes: Obj[], extra: Obj = {}): Obj {
  return {
    Event: {
      uuid: '6f0b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d',
      info: 'Election lookalikes',
      threat_level_id: '2',
      Tag: [{ name: 'tlp:green' }],
      Attribute: attributes,
      ...extra,
    },
  };
}

const OPTIONS: MispImportOptions = { includeNonIds: false, defaultCategory: 'disinformation' };

function map(body: unknown, options: Partial<MispImportOptions> = {}): MispImport {
  return mapMispEvent(body, { ...OPTIONS, ...options });
}

/** [type, canonical value, platform] of every indicator, in order. */
function mapped(body: unknown, options: Partial<MispImportOptions> = {}): [string, string, string?][] {
  return map(body, options).indicators.map(
    (i) =>
      [
        i.input.type,
        canonicalize(i.input.type, i.input.value, i.input.platform),
        ...(i.input.platform ? [i.input.platform] : []),
      ] as [string, string, string?],
  );
}

describe('MISP attribute types', () => {
  it.each([
    ['domain', 'vote-by-text.com', [['domain', 'vote-by-text.com']]],
    ['hostname', 'www.vote-by-text.com', [['domain', 'www.vote-by-text.com']]],
    ['url', 'https://vote-by-text.com/a', [['url', 'https://vote-by-text.com/a']]],
    ['uri', 'https://vote-by-text.com/b', [['url', 'https://vote-by-text.com/b']]],
    ['link', 'https://vote-by-text.com/c', [['url', 'https://vote-by-text.com/c']]],
    ['ip-src', '203.0.113.7', [['ipv4', '203.0.113.7']]],
    ['ip-dst', '2001:db8::7', [['ipv6', '2001:db8::7']]],
    ['ip-dst', '198.51.100.0/24', [['cidr', '198.51.100.0/24']]],
    ['ip-src|port', '198.51.100.7|8080', [['ipv4', '198.51.100.7']]],
    ['ip-dst|port', '2001:db8::8|443', [['ipv6', '2001:db8::8']]],
    ['hostname|port', 'mail.vote-by-text.com|25', [['domain', 'mail.vote-by-text.com']]],
    ['email', 'a@vote-by-text.com', [['email', 'a@vote-by-text.com']]],
    ['email-src', 'b@vote-by-text.com', [['email', 'b@vote-by-text.com']]],
    ['email-dst', 'c@vote-by-text.com', [['email', 'c@vote-by-text.com']]],
    ['md5', '5D41402ABC4B2A76B9719D911017C592', [['md5', '5d41402abc4b2a76b9719d911017c592']]],
    [
      'sha1',
      'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d',
      [['sha1', 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d']],
    ],
    [
      'sha256',
      '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
      [['sha256', '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824']],
    ],
    ['filename|md5', 'a.exe|5d41402abc4b2a76b9719d911017c592', [['md5', '5d41402abc4b2a76b9719d911017c592']]],
    [
      'filename|sha1',
      'a.exe|aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d',
      [['sha1', 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d']],
    ],
    [
      'filename|sha256',
      'a.exe|2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
      [['sha256', '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824']],
    ],
    ['AS', 'AS64500', [['asn', 'AS64500']]],
    ['phone-number', '+1 202 555 0143', [['phone', '+12025550143']]],
    ['twitter-id', '@Precinct_Watch_Bot', [['social_account', 'precinct_watch_bot', 'twitter']]],
    ['github-username', 'ballot-leaks', [['social_account', 'ballot-leaks', 'github']]],
  ])('%s %s maps to %j', (type, value, expected) => {
    expect(mapped(event([attribute(type, value)]))).toEqual(expected);
  });

  it('makes one indicator of each part of a domain|ip', () => {
    const body = event([attribute('domain|ip', 'polls-live.example.net|203.0.113.8')]);
    const result = map(body);
    expect(result.indicators.map((i) => [i.part, i.input.type, i.input.value])).toEqual([
      [0, 'domain', 'polls-live.example.net'],
      [1, 'ipv4', '203.0.113.8'],
    ]);
  });

  it('refuses only the part of a composite that is invalid, naming the part', () => {
    const result = map(event([attribute('domain|ip', 'polls-live.example.net|999.1.1.1')]));
    expect(result.indicators.map((i) => i.input.value)).toEqual(['polls-live.example.net']);
    expect(result.skipped).toEqual([
      expect.objectContaining({
        why: 'refused',
        part: 1,
        code: 'TR_INVALID_VALUE',
        path: 'Event.Attribute.0',
      }),
    ]);
  });

  it('refuses a composite value with the wrong number of parts', () => {
    const result = map(event([attribute('ip-dst|port', '203.0.113.8')]));
    expect(result.skipped[0]).toMatchObject({
      why: 'refused',
      reason: expect.stringMatching(/has 2 parts.*has 1/),
    });
  });

  it('lists an unmapped type as skipped with the type named', () => {
    const result = map(event([attribute('mutex', 'Global\\x'), attribute('domain', 'vote-by-text.com')]));
    expect(result.skipped).toEqual([
      expect.objectContaining({
        mispType: 'mutex',
        why: 'unmapped',
        reason: 'MISP type mutex has no ThreatRelay indicator type',
      }),
    ]);
  });

  it('refuses a hashtag attribute outside an object that names its platform', () => {
    const result = map(event([attribute('hashtag', 'StopTheCount')]));
    expect(result.skipped[0]).toMatchObject({
      why: 'refused',
      reason: expect.stringMatching(/needs its platform/),
    });
  });
});

describe('MISP objects', () => {
  const object = (name: string, attributes: [string, string, string][]): Obj => ({
    name,
    uuid: uuid(),
    Attribute: attributes.map(([relation, type, value]) =>
      attribute(type, value, { object_relation: relation }),
    ),
  });

  it('maps a microblog username and hashtag to its platform', () => {
    const micro = object('microblog', [
      ['username', 'text', 'ballot_bot'],
      ['hashtag', 'text', '#StopTheCount2026'],
      ['type', 'text', 'Twitter'],
    ]);
    expect(mapped(event([], { Object: [micro] }))).toEqual([
      ['social_account', 'ballot_bot', 'twitter'],
      ['hashtag', 'stopthecount2026', 'twitter'],
    ]);
  });

  it('refuses a microblog account whose platform the bus does not know', () => {
    const micro = object('microblog', [
      ['username', 'text', 'ballot_bot'],
      ['type', 'text', 'Google+'],
    ]);
    expect(map(event([], { Object: [micro] })).skipped[0]).toMatchObject({
      why: 'refused',
      reason: 'platform "Google+" is not one the bus knows',
    });
  });

  it.each([
    ['twitter-account', 'name', 'twitter'],
    ['facebook-account', 'account-name', 'facebook'],
    ['instagram-account', 'account-name', 'instagram'],
    ['telegram-account', 'username', 'telegram'],
    ['reddit-account', 'account-name', 'reddit'],
  ])('maps a %s %s to an account on %s', (name, relation, platform) => {
    const body = event([], { Object: [object(name, [[relation, 'text', 'fake_precinct']])] });
    expect(mapped(body)).toEqual([['social_account', 'fake_precinct', platform]]);
  });

  it("does not map a GitHub user's followers", () => {
    const user = object('github-user', [
      ['username', 'github-username', 'leaker'],
      ['follower', 'github-username', 'bystander'],
    ]);
    const result = map(event([], { Object: [user] }));
    expect(mapped(event([], { Object: [user] }))).toEqual([['social_account', 'leaker', 'github']]);
    expect(result.skipped).toEqual([
      expect.objectContaining({ why: 'unmapped', path: 'Event.Object.0.Attribute.1' }),
    ]);
  });

  it("maps an object's typed attributes by the type table", () => {
    const domainIp = object('domain-ip', [
      ['domain', 'domain', 'object-domain.example.net'],
      ['ip', 'ip-dst', '198.51.100.99'],
    ]);
    expect(mapped(event([], { Object: [domainIp] }))).toEqual([
      ['domain', 'object-domain.example.net'],
      ['ipv4', '198.51.100.99'],
    ]);
  });
});

describe('TLP from tags', () => {
  const tlpOf = (
    eventTags: string[],
    attributeTags: string[],
    options: Partial<MispImportOptions> = {},
  ): unknown => {
    const a = attribute('domain', 'vote-by-text.com', { Tag: attributeTags.map((name) => ({ name })) });
    const result = map(event([a], { Tag: eventTags.map((name) => ({ name })) }), options);
    return result.indicators[0]?.input.tlp ?? result.skipped[0]?.reason;
  };

  it('takes the most restrictive of the event and the attribute', () => {
    expect(tlpOf(['tlp:green'], ['tlp:amber'])).toBe('amber');
    expect(tlpOf(['tlp:amber'], ['tlp:green'])).toBe('amber');
  });

  it('reads tlp:white as clear', () => {
    expect(tlpOf(['tlp:white'], [])).toBe('clear');
  });

  it('reads the tag case-insensitively', () => {
    expect(tlpOf(['TLP:AMBER'], [])).toBe('amber');
  });

  it('refuses tlp:red without recipients from the request', () => {
    expect(tlpOf(['tlp:green'], ['tlp:red'])).toMatch(/^tlp red needs recipients/);
  });

  it('refuses tlp:amber+strict without recipients from the request', () => {
    expect(tlpOf(['tlp:amber+strict'], [])).toMatch(/^tlp amber\+strict needs recipients/);
  });

  it('gives tlp:red attributes the request recipients and others none', () => {
    const red = attribute('domain', 'red.example.com', { Tag: [{ name: 'tlp:red' }] });
    const green = attribute('domain', 'green.example.com');
    const result = map(event([red, green]), { recipients: ['fbi', 'dhs'] });
    expect(result.indicators.map((i) => [i.input.tlp, i.input.recipients])).toEqual([
      ['red', ['fbi', 'dhs']],
      ['green', undefined],
    ]);
  });

  it('refuses an attribute with no tlp tag anywhere', () => {
    expect(tlpOf([], [])).toMatch(/^no tlp: tag/);
  });

  it('refuses a tlp tag that is not a level', () => {
    expect(tlpOf(['tlp:unclear'], [])).toMatch(/^tag tlp:unclear is not a TLP level/);
  });
});

describe('to_ids', () => {
  const body = (): Obj => event([attribute('domain', 'quiet.example.com', { to_ids: false })]);

  it('skips an attribute not marked to_ids', () => {
    expect(map(body()).skipped[0]).toMatchObject({ why: 'not-to-ids' });
  });

  it('publishes it with half the confidence when the request asks', () => {
    expect(map(body(), { includeNonIds: true }).indicators[0]!.input.confidence).toBe(25);
  });

  it('halves a confidence-level tag too, rounding down', () => {
    const a = attribute('domain', 'quiet.example.com', {
      to_ids: '0',
      Tag: [{ name: 'misp:confidence-level="usually-confident"' }],
    });
    expect(map(event([a]), { includeNonIds: true }).indicators[0]!.input.confidence).toBe(37);
  });

  it('keeps a link without to_ids as a reference of the other indicators, never an indicator', () => {
    const link = attribute('link', 'https://blog.example.org/report', { to_ids: false });
    const result = map(event([link, attribute('domain', 'vote-by-text.com')]), { includeNonIds: true });
    expect(result.indicators.map((i) => [i.input.value, i.input.references])).toEqual([
      ['vote-by-text.com', ['https://blog.example.org/report']],
    ]);
    expect(result.skipped[0]).toMatchObject({ why: 'reference' });
  });

  it('never publishes a link inside an object without to_ids, even when asked for non-IDS attributes', () => {
    const object = {
      name: 'microblog',
      uuid: uuid(),
      Attribute: [
        attribute('link', 'https://example.org/post/1', { object_relation: 'link', to_ids: false }),
      ],
    };
    const result = map(event([], { Object: [object] }), { includeNonIds: true });
    expect(result.indicators).toEqual([]);
    expect(result.skipped[0]).toMatchObject({
      why: 'not-to-ids',
      reason: 'a link is an indicator only when to_ids is true',
    });
  });
});

describe('category', () => {
  const categoryOf = (
    eventTags: string[],
    attributeTags: string[],
    category = 'Network activity',
  ): unknown => {
    const a = attribute('domain', 'vote-by-text.com', {
      category,
      Tag: attributeTags.map((name) => ({ name })),
    });
    const result = map(event([a], { Tag: ['tlp:green', ...eventTags].map((name) => ({ name })) }));
    return result.indicators[0]?.input.category ?? result.skipped[0]?.reason;
  };

  it("falls back to the org's default", () => {
    expect(categoryOf([], [])).toBe('disinformation');
  });

  it('reads a mapped MISP category', () => {
    expect(categoryOf([], [], 'Artifacts dropped')).toBe('malware');
  });

  it('prefers a mapped tag over the MISP category', () => {
    expect(categoryOf([], ['rsit:fraud="phishing"'], 'Artifacts dropped')).toBe('phishing');
  });

  it("prefers the attribute's tags over the event's", () => {
    expect(categoryOf(['circl:incident-classification="malware"'], ['kill-chain:Command and Control'])).toBe(
      'c2',
    );
  });

  it('reads a tag that is one of our categories', () => {
    expect(categoryOf(['coordinated-inauthentic-behavior'], [])).toBe('coordinated_inauthentic_behavior');
  });

  it('refuses two categories at one level', () => {
    expect(categoryOf([], ['rsit:fraud="phishing"', 'rsit:abusive-content="spam"'])).toMatch(
      /several categories/,
    );
  });

  it('lets threatrelay:category decide', () => {
    expect(
      categoryOf([], ['rsit:fraud="phishing"', 'rsit:abusive-content="spam"', 'threatrelay:category="spam"']),
    ).toBe('spam');
  });
});

describe('dates, text and severity', () => {
  it('takes first_seen as validFrom and firstSeen, last_seen as validUntil', () => {
    const a = attribute('domain', 'vote-by-text.com', {
      first_seen: '2026-10-01T00:00:00.000000+00:00',
      last_seen: '2026-10-20T00:00:00+00:00',
    });
    expect(map(event([a])).indicators[0]!.input).toMatchObject({
      validFrom: '2026-10-01T00:00:00.000Z',
      firstSeen: '2026-10-01T00:00:00.000Z',
      validUntil: '2026-10-20T00:00:00.000Z',
    });
  });

  it('takes the MISP timestamp as validFrom without first_seen', () => {
    expect(map(event([attribute('domain', 'vote-by-text.com')])).indicators[0]!.input.validFrom).toBe(
      '2026-10-26T07:33:20.000Z',
    );
  });

  it('keeps a last_seen not after validFrom in the description instead', () => {
    const a = attribute('domain', 'vote-by-text.com', { last_seen: '2026-10-20T00:00:00Z' });
    const input = map(event([a])).indicators[0]!.input;
    expect(input.validUntil).toBeUndefined();
    expect(input.description).toContain('Last seen by the source: 2026-10-20T00:00:00.000Z');
  });

  it("joins the event's info and the attribute's comment into the description", () => {
    const a = attribute('domain', 'vote-by-text.com', { comment: 'seen in SMS lures' });
    expect(map(event([a])).indicators[0]!.input.description).toBe('Election lookalikes\n\nseen in SMS lures');
  });

  it.each([
    ['1', 'high'],
    ['2', 'medium'],
    ['3', 'low'],
    ['4', 'medium'],
  ])('maps threat_level_id %s to severity %s', (level, severity) => {
    const body = event([attribute('domain', 'vote-by-text.com')], { threat_level_id: level });
    expect(map(body).indicators[0]!.input.severity).toBe(severity);
  });

  it('names threat actors from misp-galaxy tags', () => {
    const body = event([attribute('domain', 'vote-by-text.com')], {
      Tag: [{ name: 'tlp:green' }, { name: 'misp-galaxy:threat-actor="Storm Lantern"' }],
    });
    expect(map(body).indicators[0]!.input.threatActor).toBe('Storm Lantern');
  });
});

describe('malformed events', () => {
  const problems = (body: unknown): string[] => {
    try {
      map(body);
    } catch (err) {
      if (isThreatRelayError(err, 'TR_VALIDATION')) return err.details.map((d) => `${d.path}: ${d.message}`);
      throw err;
    }
    return [];
  };

  it('refuses a body that is not a MISP event', () => {
    expect(problems({ type: 'bundle' })).toEqual([expect.stringMatching(/^Event: expected/)]);
  });

  it('names an attribute without a uuid', () => {
    expect(problems(event([{ type: 'domain', value: 'a.example.com' }]))).toEqual([
      'Event.Attribute.0.uuid: an attribute needs a uuid: its eventIds derive from it',
    ]);
  });

  it('names a timestamp that is not a number', () => {
    expect(problems(event([attribute('domain', 'a.example.com', { timestamp: 'yesterday' })]))).toEqual([
      expect.stringMatching(/^Event\.Attribute\.0\.timestamp: must be a non-negative integer/),
    ]);
  });

  it('accepts the bare event PyMISP to_json() writes', () => {
    const bare = (event([attribute('domain', 'vote-by-text.com')]) as { Event: Obj }).Event;
    expect(map(bare).indicators).toHaveLength(1);
  });
});
