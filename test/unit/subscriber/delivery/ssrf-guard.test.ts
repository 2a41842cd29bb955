import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isThreatRelayError } from '../../../../services/contract/errors';
import {
  createSsrfGuard,
  guardedLookup,
  isPrivateAddress,
  privateRangeOf,
  type SsrfGuard,
} from '../../../../services/subscriber/delivery/ssrf-guard';

/**
 * The expected ranges come from the IANA special-purpose registries and the
 * RFCs named beside them, not from the guard's own table: each block is
 * probed at both ends and just outside.
 */
const BLOCKED_V4: [address: string, cidr: string][] = [
  ['0.0.0.0', '0.0.0.0/8'],
  ['0.255.255.255', '0.0.0.0/8'],
  ['10.0.0.0', '10.0.0.0/8'],
  ['10.255.255.255', '10.0.0.0/8'],
  ['100.64.0.0', '100.64.0.0/10'],
  ['100.127.255.255', '100.64.0.0/10'],
  ['127.0.0.1', '127.0.0.0/8'],
  ['127.255.255.255', '127.0.0.0/8'],
  ['169.254.0.0', '169.254.0.0/16'],
  ['169.254.169.254', '169.254.169.254/32'],
  ['169.254.255.255', '169.254.0.0/16'],
  ['172.16.0.0', '172.16.0.0/12'],
  ['172.31.255.255', '172.16.0.0/12'],
  ['192.0.0.0', '192.0.0.0/24'],
  ['192.0.0.255', '192.0.0.0/24'],
  ['192.168.0.0', '192.168.0.0/16'],
  ['192.168.255.255', '192.168.0.0/16'],
  ['198.18.0.0', '198.18.0.0/15'],
  ['198.19.255.255', '198.18.0.0/15'],
  ['224.0.0.0', '224.0.0.0/4'],
  ['239.255.255.255', '224.0.0.0/4'],
  ['240.0.0.0', '240.0.0.0/4'],
  ['255.255.255.254', '240.0.0.0/4'],
  ['255.255.255.255', '255.255.255.255/32'],
];

const PUBLIC_V4 = [
  '8.8.8.8',
  '1.1.1.1',
  '9.255.255.255',
  '11.0.0.0',
  '100.63.255.255',
  '100.128.0.0',
  '126.255.255.255',
  '128.0.0.0',
  '169.253.255.255',
  '169.255.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '192.0.1.0',
  '192.167.255.255',
  '192.169.0.0',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.255',
];

const BLOCKED_V6: [address: string, cidr: string][] = [
  ['::', '::/128'],
  ['::1', '::1/128'],
  ['0:0:0:0:0:0:0:1', '::1/128'],
  ['fc00::', 'fc00::/7'],
  ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fc00::/7'],
  ['fd00:ec2::254', 'fd00:ec2::254/128'],
  ['fe80::', 'fe80::/10'],
  ['fe80::1%eth0', 'fe80::/10'],
  ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe80::/10'],
  ['fec0::1', 'fec0::/10'],
  ['ff00::', 'ff00::/8'],
  ['ff02::1', 'ff00::/8'],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ff00::/8'],
  ['64:ff9b:1::1', '64:ff9b:1::/48'],
];

const PUBLIC_V6 = ['2606:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:80b::200e'];

/** Unassigned space, not public, but just outside ULA and link-local: the blocks must not be wider. */
const JUST_OUTSIDE_V6 = [
  'fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  'fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
];

/** The IPv6 spellings of an IPv4 address that still end up connecting to it. */
const embeddings = (v4: string): string[] => {
  const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
  const hi = ((a << 8) | b).toString(16);
  const lo = ((c << 8) | d).toString(16);
  return [
    `::ffff:${v4}`,
    `::ffff:${hi}:${lo}`,
    `0:0:0:0:0:ffff:${hi}:${lo}`,
    `64:ff9b::${v4}`,
    `64:ff9b::${hi}:${lo}`,
    `::${v4}`,
    `2002:${hi}:${lo}::1`,
  ];
};

describe('address classifier', () => {
  it.each(BLOCKED_V4)('refuses %s (in %s)', (address, cidr) => {
    expect(privateRangeOf(address)?.cidr).toBe(cidr);
  });

  it.each(PUBLIC_V4)('allows public %s', (address) => {
    expect(privateRangeOf(address)).toBeUndefined();
  });

  it.each(BLOCKED_V6)('refuses %s (in %s)', (address, cidr) => {
    expect(privateRangeOf(address)?.cidr).toBe(cidr);
  });

  it.each(PUBLIC_V6)('allows public %s', (address) => {
    expect(privateRangeOf(address)).toBeUndefined();
  });

  it.each(JUST_OUTSIDE_V6)('allows %s, just outside a refused block', (address) => {
    expect(privateRangeOf(address)).toBeUndefined();
  });

  it.each(BLOCKED_V4)('refuses %s behind IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6', (address) => {
    for (const v6 of embeddings(address)) {
      expect([v6, isPrivateAddress(v6)]).toEqual([v6, true]);
    }
  });

  it.each(PUBLIC_V4)(
    'allows public %s behind IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6',
    (address) => {
      for (const v6 of embeddings(address)) {
        expect([v6, isPrivateAddress(v6)]).toEqual([v6, false]);
      }
    },
  );

  it('names the embedded IPv4 range of a mapped address', () => {
    expect(privateRangeOf('::ffff:169.254.169.254')).toEqual({
      cidr: '::ffff:a9fe:a9fe/128',
      name: 'cloud metadata service 169.254.169.254/32 as IPv4-mapped IPv6',
    });
    expect(privateRangeOf('64:ff9b::7f00:1')?.name).toBe('loopback 127.0.0.0/8 as NAT64 64:ff9b::/96');
  });

  it('refuses what is not an IP address rather than guessing', () => {
    for (const junk of ['localhost', '', '127.1', '[::1]', '1.2.3.4.5']) {
      expect([junk, privateRangeOf(junk)?.name]).toEqual([junk, 'not an IP address']);
    }
  });
});

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** A resolver that answers from a fixed table, so the hook is tested without DNS. */
function fixedResolver(answers: Record<string, string[]>): LookupFunction {
  return (hostname, _options, callback) => {
    const found = answers[hostname];
    if (!found) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
      return;
    }
    callback(
      null,
      found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };
}

function lookupOnce(
  lookup: LookupFunction,
  hostname: string,
  all: boolean,
): Promise<{ address: string | LookupAddress[]; family: number | undefined }> {
  return new Promise((resolve, reject) => {
    lookup(hostname, { all }, (err, address, family) => (err ? reject(err) : resolve({ address, family })));
  });
}

describe('lookup hook', () => {
  const lookup = guardedLookup(
    fixedResolver({
      'public.test': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
      'mixed.test': ['10.0.0.7', '93.184.215.14', '::1'],
      'private.test': ['192.168.1.10', 'fd00::1'],
    }),
  );

  it('passes public answers through unchanged', async () => {
    await expect(lookupOnce(lookup, 'public.test', true)).resolves.toEqual({
      address: [
        { address: '93.184.215.14', family: 4 },
        { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
      ],
      family: undefined,
    });
  });

  it('drops private answers and keeps the public ones', async () => {
    await expect(lookupOnce(lookup, 'mixed.test', true)).resolves.toEqual({
      address: [{ address: '93.184.215.14', family: 4 }],
      family: undefined,
    });
    await expect(lookupOnce(lookup, 'mixed.test', false)).resolves.toEqual({
      address: '93.184.215.14',
      family: 4,
    });
  });

  it('fails with a non-retryable TR_DELIVERY_REJECTED naming the address when only private ones are left', async () => {
    const err: unknown = await lookupOnce(lookup, 'private.test', false).catch((e: unknown) => e);
    expect(isThreatRelayError(err, 'TR_DELIVERY_REJECTED')).toBe(true);
    expect((err as Error & { canRetry: boolean }).canRetry).toBe(false);
    expect((err as Error).message).toBe(
      'webhook target private.test resolves to 192.168.1.10 (private network: private (RFC 1918), ' +
        '192.168.0.0/16); set allowPrivateNetworks to allow it',
    );
  });

  it('passes resolver errors through for the caller to retry', async () => {
    await expect(lookupOnce(lookup, 'missing.test', true)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('URL check before dialing', () => {
  let guarded: SsrfGuard;
  let open: SsrfGuard;
  const resolver = jest.fn(fixedResolver({ 'public.test': ['93.184.215.14'], 'local.test': ['127.0.0.1'] }));

  beforeAll(() => {
    guarded = createSsrfGuard({ allowPrivateNetworks: false, lookup: resolver });
    open = createSsrfGuard({ allowPrivateNetworks: true, lookup: resolver });
  });

  afterAll(async () => {
    await guarded.close();
    await open.close();
  });

  beforeEach(() => resolver.mockClear());

  it.each([
    ['http://127.0.0.1/', '127.0.0.1'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['https://[::1]:8443/hook', '::1'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ['http://169.254.169.254/latest/meta-data', '169.254.169.254'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254'],
  ])('refuses the IP literal in %s without resolving anything', (url, address) => {
    expect(thrownBy(() => guarded.assertUrlAllowed(url))).toMatchObject({
      code: 'TR_DELIVERY_REJECTED',
      canRetry: false,
      message: expect.stringContaining(`resolves to ${address} (private network: `),
    });
    expect(resolver).not.toHaveBeenCalled();
  });

  it('lets host names through to the dial-time check', () => {
    expect(() => guarded.assertUrlAllowed('http://local.test/')).not.toThrow();
    expect(resolver).not.toHaveBeenCalled();
  });

  it('allows private literals when the subscription allows private networks', () => {
    expect(() => open.assertUrlAllowed('http://127.0.0.1:9000/ok')).not.toThrow();
  });

  it('refuses URLs that are not http(s) or not URLs at all', () => {
    expect(thrownBy(() => open.assertUrlAllowed('file:///etc/passwd'))).toMatchObject({
      code: 'TR_DELIVERY_REJECTED',
    });
    expect(thrownBy(() => open.assertUrlAllowed('not a url'))).toMatchObject({
      code: 'TR_DELIVERY_REJECTED',
    });
  });

  it('check() resolves the host and refuses a private answer', async () => {
    await expect(guarded.check('http://public.test/')).resolves.toBeUndefined();
    await expect(guarded.check('http://local.test/')).rejects.toMatchObject({
      code: 'TR_DELIVERY_REJECTED',
      message: expect.stringContaining('webhook target local.test resolves to 127.0.0.1'),
    });
  });

  it('check() reports a DNS failure as retryable', async () => {
    await expect(guarded.check('http://missing.test/')).rejects.toMatchObject({
      code: 'TR_DELIVERY_RETRYABLE',
      canRetry: true,
    });
  });
});
