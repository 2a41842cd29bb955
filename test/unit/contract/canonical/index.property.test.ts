import { BlockList, SocketAddress } from 'node:net';
import fc from 'fast-check';
import { getCountries, getExampleNumber } from 'libphonenumber-js';
import examples from 'libphonenumber-js/mobile/examples';
import { CANONICALIZATION_VERSION, canonicalize } from '../../../../services/contract/canonical';
import { identityKey } from '../../../../services/contract/identity';
import type { IndicatorType, Platform } from '../../../../services/contract/model';

const RUNS = { numRuns: 200 };

function expectIdempotent(type: IndicatorType, input: string, platform?: Platform): string {
  const once = canonicalize(type, input, platform);
  expect(canonicalize(type, once, platform)).toBe(once);
  const key = identityKey(CANONICALIZATION_VERSION, type, platform ?? null, once);
  expect(key).toMatch(/^[0-9a-f]{64}$/);
  expect(
    identityKey(CANONICALIZATION_VERSION, type, platform ?? null, canonicalize(type, once, platform)),
  ).toBe(key);
  return once;
}

/** Uppercases a random subset of the ASCII letters (Unicode case maps can change a domain, like ß to SS). */
function mixedCase(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return text.chain((value) =>
    fc
      .array(fc.boolean(), { minLength: value.length, maxLength: value.length })
      .map((flips) =>
        [...value].map((char, i) => (flips[i] && /[a-z]/.test(char) ? char.toUpperCase() : char)).join(''),
      ),
  );
}

const hexString = (minLength: number, maxLength = minLength) =>
  mixedCase(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength, maxLength }));

const LABEL_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789-', 'ü', 'é', 'ж', '日'];
const label = fc
  .string({ unit: fc.constantFrom(...LABEL_CHARS), minLength: 1, maxLength: 20 })
  .filter((text) => !text.startsWith('-') && !text.endsWith('-') && !/^..--/.test(text));
const SUFFIXES = ['com', 'co.uk', 'de', 'org', 'ru', 'рф', 'xn--p1ai', 'io', 'com.br', 'ltd', 'info', 'jp'];
const domain = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.constantFrom(...SUFFIXES))
  .map(([labels, suffix]) => `${labels.join('.')}.${suffix}`);

/** The same name as an analyst might paste it: mixed case, defanged, with a trailing dot. */
function spellingOf(name: string): fc.Arbitrary<string> {
  return fc
    .tuple(
      mixedCase(fc.constant(name)),
      fc.constantFrom('.', '[.]', '(.)', '{.}', '[dot]', '(dot)'),
      fc.boolean(),
    )
    .map(([cased, dot, trailing]) => `${cased.replaceAll('.', dot)}${trailing ? '.' : ''}`);
}
const domainSpelling = domain.chain(spellingOf);

describe('canonicalization is idempotent and its key stable', () => {
  it('domain', () => {
    fc.assert(
      fc.property(domainSpelling, (spelling) => {
        expectIdempotent('domain', spelling);
      }),
      RUNS,
    );
  });

  it('domain: every spelling of a name has the canonical form of the plain name', () => {
    const pairs = domain.chain((name) => fc.tuple(fc.constant(name), spellingOf(name)));
    fc.assert(
      fc.property(pairs, ([name, spelling]) => {
        expect(canonicalize('domain', spelling)).toBe(canonicalize('domain', name));
      }),
      RUNS,
    );
  });

  it('ipv4, against the address as a 32-bit integer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (address, defang) => {
        const dotted = [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
        const out = expectIdempotent('ipv4', defang ? dotted.replaceAll('.', '[.]') : dotted);
        expect(out).toBe(dotted);
      }),
      RUNS,
    );
  });

  // Runs of zero groups are what RFC 5952 compression is about, so they are common here.
  const ipv6Groups = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  });

  it('ipv6, against libuv inet_ntop as an independent formatter', () => {
    fc.assert(
      fc.property(ipv6Groups, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (groups, pad) => {
        // Full form with random zero-padding and case: a spelling no formatter would emit.
        const full = groups
          .map((group, i) => group.toString(16).padStart(pad[i] ? 4 : 1, '0'))
          .map((text, i) => (pad[i] ? text.toUpperCase() : text))
          .join(':');
        const out = expectIdempotent('ipv6', full);
        // libuv also writes the deprecated IPv4-compatible form (::1.2.3.4) in
        // dotted notation; RFC 5952 only recommends that for IPv4-mapped ones.
        const ipv4Compatible =
          groups.slice(0, 6).every((group) => group === 0) && (groups[6] !== 0 || (groups[7] ?? 0) > 1);
        if (!ipv4Compatible) expect(out).toBe(new SocketAddress({ address: full, family: 'ipv6' }).address);
      }),
      RUNS,
    );
  });

  it('cidr, whose network contains the address it was written with (checked by net.BlockList)', () => {
    const v4 = fc
      .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
      .map(([address, prefix]) => ({
        address: [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.'),
        prefix,
        family: 'ipv4' as const,
      }));
    const v6 = fc.tuple(ipv6Groups, fc.integer({ min: 0, max: 128 })).map(([groups, prefix]) => ({
      address: groups.map((group) => group.toString(16)).join(':'),
      prefix,
      family: 'ipv6' as const,
    }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), ({ address, prefix, family }) => {
        const out = expectIdempotent('cidr', `${address}/${prefix}`);
        const [network = '', outPrefix] = out.split('/');
        expect(outPrefix).toBe(String(prefix));
        const blocks = new BlockList();
        blocks.addSubnet(network, prefix, family);
        expect(blocks.check(address, family)).toBe(true);
        // The network address itself is canonical: host bits already zero.
        expect(canonicalize('cidr', `${network}/${prefix}`)).toBe(out);
      }),
      RUNS,
    );
  });

  it.each([
    ['md5', 32],
    ['sha1', 40],
    ['sha256', 64],
    ['pdq', 64],
  ] as const)('%s in mixed case', (type, length) => {
    fc.assert(
      fc.property(hexString(length), (hex) => {
        expect(expectIdempotent(type, hex)).toBe(hex.toLowerCase());
      }),
      RUNS,
    );
  });

  it('tmk', () => {
    const tmk = fc.integer({ min: 16, max: 2048 }).chain((bytes) => hexString(bytes * 2));
    fc.assert(
      fc.property(tmk, (hex) => {
        expect(expectIdempotent('tmk', hex)).toBe(hex.toLowerCase());
      }),
      RUNS,
    );
  });

  const PATH_CHARS = [..."abcXYZ019-._~!$&'()*+,;=:@", '%7e', '%7E', '%2f', '%2F', '%41', '%c3%a9', 'é', '/'];
  const url = fc
    .record({
      scheme: fc.constantFrom('http', 'https', 'ftp', 'HTTPS', 'hxxps', 'hXXp', 'fxp'),
      userinfo: fc.constantFrom('', 'user@', 'paypal.com@', 'a:b@'),
      host: domainSpelling,
      port: fc.constantFrom('', ':80', ':443', ':21', ':8080'),
      path: fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 20 }),
      query: fc.option(fc.string({ unit: fc.constantFrom(...PATH_CHARS, '=', '&', '?'), maxLength: 20 }), {
        nil: undefined,
      }),
      fragment: fc.option(fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 10 }), {
        nil: undefined,
      }),
    })
    .map(
      ({ scheme, userinfo, host, port, path, query, fragment }) =>
        `${scheme}://${userinfo}${host}${port}/${path}${query === undefined ? '' : `?${query}`}${fragment === undefined ? '' : `#${fragment}`}`,
    );

  it('url, whose canonical form the WHATWG parser leaves unchanged', () => {
    fc.assert(
      fc.property(url, (input) => {
        const out = expectIdempotent('url', input);
        expect(new URL(out).href).toBe(out);
        expect(out).not.toContain('#');
        expect(out).not.toMatch(/%(?:[0-9A-F][a-f]|[a-f][0-9A-F]|[a-f]{2})/);
        expect(out).not.toMatch(/%(?:4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9AE]|3[0-9]|2D|2E|5F)/);
      }),
      RUNS,
    );
  });

  it('email', () => {
    const local = mixedCase(
      fc
        .string({
          unit: fc.constantFrom(..."abcdefghxyz0129!#$%&'*+/=?^_`{|}~-é."),
          minLength: 1,
          maxLength: 30,
        })
        .filter((text) => !/^\.|\.$|\.\.|\{\.\}/.test(text)),
    );
    fc.assert(
      fc.property(local, domainSpelling, fc.constantFrom('@', '[@]', '(@)', '[at]'), (user, host, at) => {
        expectIdempotent('email', `${user}${at}${host}`);
      }),
      RUNS,
    );
  });

  it('social_account', () => {
    const platforms = fc.constantFrom<Platform>(
      'twitter',
      'facebook',
      'instagram',
      'tiktok',
      'youtube',
      'telegram',
      'other',
    );
    const handle = fc.string({
      unit: fc.constantFrom(...'abcXYZ019_.-', 'É', 'ж', 'Ж'),
      minLength: 1,
      maxLength: 30,
    });
    fc.assert(
      fc.property(handle, fc.boolean(), platforms, (name, at, platform) => {
        expectIdempotent('social_account', `${at ? '@' : ''}${name}`, platform);
      }),
      RUNS,
    );
  });

  it('hashtag, over arbitrary Unicode text it accepts', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), (text) => {
        let accepted = true;
        try {
          canonicalize('hashtag', `#${text}`, 'twitter');
        } catch {
          accepted = false;
        }
        fc.pre(accepted);
        expectIdempotent('hashtag', `#${text}`, 'twitter');
      }),
      RUNS,
    );
  });

  it('asn', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4_294_967_295 }),
        fc.constantFrom('', 'AS', 'as', 'ASN', 'asn'),
        (asn, prefix) => {
          expect(expectIdempotent('asn', `${prefix}${asn}`)).toBe(`AS${asn}`);
        },
      ),
      RUNS,
    );
  });

  it('phone, from the example mobile number of every country', () => {
    const numbers = getCountries()
      .map((country) => getExampleNumber(country, examples))
      .filter((phone) => phone !== undefined);
    fc.assert(
      fc.property(fc.constantFrom(...numbers), (phone) => {
        expect(expectIdempotent('phone', phone.formatInternational())).toBe(phone.number);
      }),
      RUNS,
    );
  });
});
