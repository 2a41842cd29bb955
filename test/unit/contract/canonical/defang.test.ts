import { canonicalize, refang } from '../../../../services/contract/canonical';

describe('refang', () => {
  it.each([
    ['hxxps://evil[.]com', 'https://evil.com'],
    ['hXXp://evil(.)com', 'http://evil.com'],
    ['HXXPS://evil{.}com', 'https://evil.com'],
    ['fxp://files[dot]evil(dot)com', 'ftp://files.evil.com'],
    ['https[://]evil[.]com', 'https://evil.com'],
    ['hxxps[:]//evil[.]com', 'https://evil.com'],
    ['user[@]evil[.]com', 'user@evil.com'],
    ['user(@)evil[.]com', 'user@evil.com'],
    ['user[at]evil[.]com', 'user@evil.com'],
    ['2001[:]db8[:][:]1', '2001:db8::1'],
  ])('turns %j into %j', (input, expected) => {
    expect(refang(input)).toBe(expected);
  });

  it('leaves hxxp alone where it is not a scheme', () => {
    expect(refang('hxxpress.com')).toBe('hxxpress.com');
  });
});

describe('url: refanged only in the scheme and authority', () => {
  it.each([
    ['hxxps://evil[.]example[.]com/a(dot)b', 'https://evil.example.com/a(dot)b'],
    ['hxxps://user[@]evil[.]com[:]8443/x[.]y?q=(dot)', 'https://user@evil.com:8443/x[.]y?q=(dot)'],
    ['hXXp[://]evil[dot]com/?next=hxxp://a[.]b', 'http://evil.com/?next=hxxp://a[.]b'],
    ['hxxps://evil[.]com\\a(dot)b', 'https://evil.com/a(dot)b'],
  ])('canonicalizes %j to %j', (input, expected) => {
    expect(canonicalize('url', input)).toBe(expected);
  });

  it('keeps (dot) in a query apart from a dot', () => {
    const written = canonicalize('url', 'https://example.com/?q=a(dot)b');
    expect(written).toBe('https://example.com/?q=a(dot)b');
    expect(canonicalize('url', 'https://example.com/?q=a.b')).not.toBe(written);
  });

  // `[` and `]` are reserved (RFC 3986 section 2.2): like %2F, their
  // percent-encoding is kept, so neither spelling becomes the other or `.`.
  it('keeps [dot] in a query as written, apart from its percent-encoding and from a dot', () => {
    const values = [
      'https://example.com/?q=[dot]',
      'https://example.com/?q=%5Bdot%5D',
      'https://example.com/?q=.',
    ];
    expect(values.map((v) => canonicalize('url', v))).toEqual(values);
  });
});

describe('types defanged as a whole', () => {
  it.each([
    ['domain', 'evil(dot)example[.]com', 'evil.example.com'],
    ['email', 'a(dot)b[@]evil[.]com', 'a.b@evil.com'],
    ['ipv4', '10(.)0(.)0(.)1', '10.0.0.1'],
  ] as const)('refangs all of a %s', (type, input, expected) => {
    expect(canonicalize(type, input)).toBe(expected);
  });

  it('leaves a hashtag as written', () => {
    expect(canonicalize('hashtag', '#a[.]b', 'twitter')).toBe('a[.]b');
  });
});
