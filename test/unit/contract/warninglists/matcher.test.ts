import { WarninglistIndex, type ListFile } from '../../../../services/contract/warninglists';

/** Lists shaped like MISP's, small enough to read: one per list type. */
function list(
  id: string,
  type: ListFile['type'],
  entries: string[],
  matching: string[],
  version = 1,
): { id: string; file: ListFile } {
  return {
    id,
    file: {
      name: `the ${id} list`,
      version,
      description: '',
      type,
      matching_attributes: matching,
      list: entries,
    },
  };
}

const index = new WarninglistIndex([
  list('shorteners', 'hostname', ['bit.ly', '.t.co', 'Example-Short.COM.'], ['domain', 'hostname', 'url']),
  list('user-content', 'string', ['dropbox.com', 'docs.google.com'], ['domain', 'hostname', 'url']),
  list('private', 'cidr', ['10.0.0.0/8', '192.168.0.0/16', 'FE80::/10'], ['ip-src', 'ip-dst']),
  list('resolvers', 'cidr', ['8.8.8.8', '2001:4860:4860::8888'], ['ip-dst']),
  list('sandboxes', 'substring', ['any.run', 'virustotal.com'], ['domain', 'url']),
  list('contacts', 'regex', ['/^(abuse|noc)\\@.*$/i'], ['email-src', 'email-dst']),
  list('empty', 'string', ['D41D8CD98F00B204E9800998ECF8427E'], ['md5', 'filename|md5']),
  list('names-only', 'hostname', ['dyn.example'], ['domain']),
]);

const lists = (type: Parameters<WarninglistIndex['match']>[0], value: string): string[] =>
  index.match(type, value).map((m) => m.list);

describe('hostname lists', () => {
  it('match the listed host itself', () => {
    expect(lists('domain', 'bit.ly')).toEqual(['shorteners']);
  });

  it('match every subdomain of a listed host', () => {
    expect(lists('domain', 'a.b.bit.ly')).toEqual(['shorteners']);
  });

  it('do not match a name that merely ends with the same letters', () => {
    expect(lists('domain', 'notbit.ly')).toEqual([]);
  });

  it('read leading dots and a trailing dot and case in entries as the bare host', () => {
    expect(lists('domain', 'x.t.co')).toEqual(['shorteners']);
    expect(lists('domain', 'example-short.com')).toEqual(['shorteners']);
  });

  it('match a URL by its host, and say so', () => {
    expect(index.match('url', 'https://x.bit.ly/abc')).toEqual([
      expect.objectContaining({ list: 'shorteners', entry: 'bit.ly', on: 'host', type: 'hostname' }),
    ]);
  });

  it("match a URL's host even when the list names domains only", () => {
    expect(lists('url', 'http://host.dyn.example/x')).toEqual(['names-only']);
  });
});

describe('string lists', () => {
  it('match the exact value', () => {
    expect(lists('domain', 'dropbox.com')).toEqual(['user-content']);
  });

  it('do not match a subdomain of a user-content host, where phishing is hosted', () => {
    expect(lists('domain', 'login-verify.dropbox.com')).toEqual([]);
    expect(lists('url', 'https://phish.docs.google.com.evil.example/')).toEqual([]);
  });

  it('match the exact host of a URL', () => {
    expect(lists('url', 'https://docs.google.com/forms/d/e/1')).toEqual(['user-content']);
  });

  it('ignore case', () => {
    expect(lists('md5', 'd41d8cd98f00b204e9800998ecf8427e')).toEqual(['empty']);
  });
});

describe('cidr lists', () => {
  it('match an IPv4 address inside a block', () => {
    expect(lists('ipv4', '10.20.30.40')).toEqual(['private']);
  });

  it('do not match an address just outside a block', () => {
    expect(lists('ipv4', '11.0.0.0')).toEqual([]);
    expect(lists('ipv4', '192.169.0.1')).toEqual([]);
  });

  it('match an IPv6 address inside a block', () => {
    expect(lists('ipv6', 'fe80::1:2')).toEqual(['private']);
  });

  it('hold an IPv6 block whose prefix ends inside a hex digit to exactly its bits', () => {
    expect(lists('ipv6', 'febf::1')).toEqual(['private']);
    expect(lists('ipv6', 'fec0::1')).toEqual([]);
  });

  it('read an IPv6 address with an embedded IPv4 tail', () => {
    expect(lists('ipv6', 'fe80::10.0.0.1')).toEqual(['private']);
  });

  it('read a bare address as a single-address block', () => {
    expect(lists('ipv4', '8.8.8.8')).toEqual(['resolvers']);
    expect(lists('ipv4', '8.8.8.9')).toEqual([]);
    expect(lists('ipv6', '2001:4860:4860::8888')).toEqual(['resolvers']);
  });

  it('match a network only when the block holds all of it', () => {
    expect(lists('cidr', '10.1.0.0/16')).toEqual(['private']);
    expect(lists('cidr', '10.0.0.0/7')).toEqual([]);
  });

  it('match the IP host of a URL', () => {
    expect(lists('url', 'http://192.168.1.1/admin')).toEqual(['private']);
    expect(lists('url', 'http://[fe80::1]/')).toEqual(['private']);
  });
});

describe('substring lists', () => {
  it('match a value that contains an entry', () => {
    expect(lists('domain', 'app.any.run')).toEqual(['sandboxes']);
  });

  it('read entries literally, not as patterns', () => {
    expect(lists('domain', 'anyxrun.example')).toEqual([]);
  });

  it('match a URL whose text contains an entry', () => {
    expect(lists('url', 'https://example.org/?ref=virustotal.com')).toEqual(['sandboxes']);
  });
});

describe('regex lists', () => {
  it('match with the PCRE flags kept', () => {
    expect(lists('email', 'ABUSE@example.org')).toEqual(['contacts']);
  });

  it('do not match what the pattern excludes', () => {
    expect(lists('email', 'alice@example.org')).toEqual([]);
  });

  it('refuse a pattern JavaScript cannot run as written, naming the entry', () => {
    expect(() => new WarninglistIndex([list('bad', 'regex', ['/a b/x'], ['email-src'])])).toThrow(
      expect.objectContaining({ details: [expect.objectContaining({ path: 'bad.list.0' })] }),
    );
  });
});

describe('matching attributes', () => {
  it('keep a list to the kinds of value it names', () => {
    // An address list never matches a domain, nor a hash list an address.
    expect(lists('domain', '10.0.0.1.nip.example')).toEqual([]);
    expect(lists('sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toEqual([]);
  });

  it('give no warnings to types no list describes', () => {
    expect(index.match('hashtag', 'bit.ly')).toEqual([]);
  });
});

describe('building an index', () => {
  it('refuses a CIDR entry that does not parse, naming list and entry', () => {
    expect(
      () => new WarninglistIndex([list('broken', 'cidr', ['10.0.0.0/8', '300.1.1.1/8'], ['ip-dst'])]),
    ).toThrow(expect.objectContaining({ details: [expect.objectContaining({ path: 'broken.list.1' })] }));
  });

  it('reports each list once with its version', () => {
    expect(index.warnings('domain', 'bit.ly')).toEqual([{ list: 'shorteners', version: 1 }]);
    expect(index.versions.get('private')).toBe(1);
  });
});
