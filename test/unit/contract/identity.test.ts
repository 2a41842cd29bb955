import { identityKey } from '../../../services/contract/identity';

describe('identityKey', () => {
  // Digests computed outside this code, with coreutils, e.g.
  //   printf 'domain:example.com' | sha256sum
  //   printf 'social_account:twitter:badactor2020' | sha256sum
  //   printf 'hashtag:twitter:b\xc3\xbccher' | sha256sum   (the UTF-8 bytes of "bücher")
  it.each([
    [1, 'domain', null, 'example.com', 'ed152b32b035d8e873341938ca5f75d242725beae5a202c27e413eb4477f8739'],
    [2, 'domain', null, 'example.com', 'ed152b32b035d8e873341938ca5f75d242725beae5a202c27e413eb4477f8739'],
    [2, 'ipv4', null, '1.2.3.4', '226402ac49f25a4498f2de882573fcd28364de0e188f3f7e4221dbf145f0ebb9'],
    [1, 'hashtag', 'twitter', 'bücher', '8e8afba04ccddc447efe4ab2ea758eda77e208f731e135179eb70fa7e238695f'],
    [2, 'hashtag', 'twitter', 'bücher', '1ae54203ed94a94fda5e0f9481829ac754472d7f4ca58f4b994d339b1d5b6754'],
    [
      1,
      'social_account',
      'twitter',
      'badactor2020',
      'fa79cbf7974ae4f64d468a625bdcc5a2ab41b42e1aa932ff71445dd647f1b41b',
    ],
    [
      2,
      'social_account',
      'twitter',
      'badactor2020',
      '1c46948991301eb16a88af386e38fc162213dcfab6e00a3efd1c22217bd66b9d',
    ],
  ] as const)(
    'version %i hashes %s (%s) %s to the SHA-256 computed by sha256sum',
    (v, type, platform, value, digest) => {
      expect(identityKey(v, type, platform, value)).toBe(digest);
    },
  );

  it('keys one handle on two platforms apart from version 2 on, and together before', () => {
    expect(identityKey(2, 'social_account', 'twitter', 'badactor2020')).not.toBe(
      identityKey(2, 'social_account', 'facebook', 'badactor2020'),
    );
    expect(identityKey(1, 'social_account', 'twitter', 'badactor2020')).toBe(
      identityKey(1, 'social_account', 'facebook', 'badactor2020'),
    );
  });

  it('separates types that share a value', () => {
    const hex = 'a'.repeat(64);
    expect(identityKey(2, 'sha256', null, hex)).not.toBe(identityKey(2, 'pdq', null, hex));
  });
});
