import { apiKeyHash } from '../../../services/platform/config/config';
import { authenticate } from '../../../services/taxii/auth';

const readers = [
  { name: 'fbi-tip', org: 'fbi', sha256: apiKeyHash('trt_fbi_secret') },
  { name: 'fbi-siem', org: 'fbi', sha256: apiKeyHash('trt_fbi_other') },
];
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('TAXII reader credentials', () => {
  it('accepts Basic with the reader name and secret, and Bearer with the secret', () => {
    expect(authenticate(readers, basic('fbi-tip', 'trt_fbi_secret'))?.name).toBe('fbi-tip');
    expect(authenticate(readers, 'Bearer trt_fbi_other')?.name).toBe('fbi-siem');
  });

  it.each([
    ['no header', undefined],
    ['a wrong secret', basic('fbi-tip', 'trt_fbi_wrong')],
    ["another reader's name", basic('fbi-siem', 'trt_fbi_secret')],
    ['an empty bearer', 'Bearer '],
    ['another scheme', 'Digest trt_fbi_secret'],
    ['Basic without a colon', `Basic ${Buffer.from('trt_fbi_secret').toString('base64')}`],
  ])('refuses %s', (_what, header) => {
    expect(authenticate(readers, header)).toBeUndefined();
  });
});
