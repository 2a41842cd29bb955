import { join } from 'node:path';
import { loadWarninglists, readSnapshot } from '../../../../services/contract/warninglists';

/** The snapshot the bus ships: readable, versions as recorded, and the lists the docs promise. */
const DIR = join(__dirname, '../../../../config/warninglists');

describe('the bundled warninglist snapshot', () => {
  const index = loadWarninglists(DIR);

  it('records the upstream commit and the CC0 license', () => {
    const { manifest } = readSnapshot(DIR);
    expect(manifest.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(manifest.license).toBe('CC0-1.0');
  });

  it.each([
    ['domain', 'www.google.com', 'tranco10k'],
    ['url', 'https://bit.ly/3xyz', 'url-shortener'],
    ['url', 'https://linktr.ee/someone', 'link-in-bio'],
    ['domain', 'cloudflare-ipfs.com', 'public-ipfs-gateways'],
    ['ipv4', '8.8.8.8', 'public-dns-v4'],
    ['ipv6', '2001:4860:4860::8888', 'public-dns-v6'],
    ['ipv4', '172.16.5.4', 'rfc1918'],
    ['ipv4', '127.0.0.1', 'rfc5735'],
    ['ipv4', '100.64.0.1', 'rfc6598'],
    ['ipv6', 'fe80::1', 'ipv6-linklocal'],
    ['ipv6', '2001:db8::1', 'rfc3849'],
    ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'empty-hashes'],
    ['md5', 'd41d8cd98f00b204e9800998ecf8427e', 'empty-hashes'],
    ['domain', 'blog.talosintelligence.com', 'security-provider-blogpost'],
  ] as const)('finds %s %s on %s', (type, value, list) => {
    expect(index.warnings(type, value).map((w) => w.list)).toContain(list);
  });

  it('does not match a subdomain of a user-content gateway on its exact list', () => {
    expect(index.warnings('domain', 'bafy.cloudflare-ipfs.com').map((w) => w.list)).not.toContain(
      'public-ipfs-gateways',
    );
  });
});
