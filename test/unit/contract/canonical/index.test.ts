import { identityKey } from '../../../../services/contract/identity';
import { CANONICALIZATION_VERSION, canonicalize } from '../../../../services/contract/canonical';
import { ThreatRelayError } from '../../../../services/contract/errors';
import type { IndicatorType, Platform } from '../../../../services/contract/model';

/** [input, canonical value, platform] */
type Valid = readonly [string, string, Platform?];
/** [input, what the reason must say, platform] */
type Invalid = readonly [string, RegExp, Platform?];

function rejectionOf(type: IndicatorType, value: string, platform?: Platform): ThreatRelayError {
  try {
    const accepted = canonicalize(type, value, platform);
    throw new Error(`expected ${JSON.stringify(value)} to be rejected, got ${JSON.stringify(accepted)}`);
  } catch (err) {
    if (err instanceof ThreatRelayError) return err;
    throw err;
  }
}

const CASES: Record<IndicatorType, { valid: Valid[]; invalid: Invalid[] }> = {
  ipv4: {
    valid: [
      ['1.2.3.4', '1.2.3.4'],
      [' 8.8.8.8 ', '8.8.8.8'],
      ['185[.]220[.]101[.]1', '185.220.101.1'],
      ['45(.)9(.)148(.)3', '45.9.148.3'],
      ['10[dot]0[DOT]0{.}1', '10.0.0.1'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      ['203.0.113.7', '203.0.113.7'],
      ['100.0.10.0', '100.0.10.0'],
    ],
    invalid: [
      ['010.001.002.003', /"010" has a leading zero, which is ambiguous/],
      ['1.2.3', /exactly 4 dot-separated parts; this one has 3/],
      ['1.2.3.4.5', /exactly 4 dot-separated parts; this one has 5/],
      ['256.1.1.1', /256 is out of range/],
      ['1.2.3.x', /"x" is not a decimal number/],
      ['1..2.3', /"" is not a decimal number/],
      ['0x7f.0.0.1', /"0x7f" is not a decimal number/],
      ['2001:db8::1', /type ipv6/],
      ['10.0.0.0/8', /type cidr/],
      ['', /empty/],
      ['1.2.3.4\n5.6.7.8', /control character U\+000A/],
    ],
  },
  ipv6: {
    // Expected forms worked out by hand from RFC 5952 sections 4 and 5.
    valid: [
      ['2001:DB8:0:0:0:0:2:1', '2001:db8::2:1'],
      ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
      ['2001:db8::0:1', '2001:db8::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
      ['::FFFF:0102:0304', '::ffff:1.2.3.4'],
      ['0:0:0:0:0:ffff:c000:0280', '::ffff:192.0.2.128'],
      ['::1.2.3.4', '::102:304'],
      ['FE80:0000:0000:0000:0000:0000:0000:0001', 'fe80::1'],
      ['2a03[:]2880[:]f10c[:]83[:][:]1', '2a03:2880:f10c:83::1'],
    ],
    invalid: [
      ['fe80::1%eth0', /zone ids/],
      ['1::2::3', /'::' only once/],
      ['1:2:3:4:5:6:7:8:9', /8 groups; this one has 9/],
      ['1:2:3:4:5:6:7', /8 groups; this one has 7/],
      ['1:2:3:4:5:6:7::8', /at least one zero group/],
      ['2001:db8::12345', /"12345" is not 1 to 4 hex digits/],
      ['2001:db8::g', /"g" is not 1 to 4 hex digits/],
      [':1:2:3:4:5:6:7', /empty group/],
      ['1.2.3.4::', /embedded IPv4 address may only end/],
      ['::ffff:010.1.2.3', /embedded IPv4: .*leading zero/],
      ['1.2.3.4', /type ipv4/],
      ['[2001:db8::1]', /without \[brackets\]/],
      ['2001:db8::/32', /type cidr/],
    ],
  },
  cidr: {
    valid: [
      ['10.1.2.3/8', '10.0.0.0/8'],
      ['192.168.1.77/24', '192.168.1.0/24'],
      ['203.0.113.255/25', '203.0.113.128/25'],
      ['1.2.3.4/32', '1.2.3.4/32'],
      ['8.8.8.8/0', '0.0.0.0/0'],
      ['255.255.255.255/31', '255.255.255.254/31'],
      ['45[.]9[.]148[.]0/24', '45.9.148.0/24'],
      ['2001:DB8:abcd:12::1/48', '2001:db8:abcd::/48'],
      ['2001:db8::1/128', '2001:db8::1/128'],
      ['2001:db8:ffff:ffff::/33', '2001:db8:8000::/33'],
      ['::ffff:10.20.30.40/120', '::ffff:10.20.30.0/120'],
      ['2001:db8::1/0', '::/0'],
    ],
    invalid: [
      ['10.0.0.0', /needs a \/prefix/],
      ['10.0.0.0/33', /IPv4 prefix is 0 to 32; this one is 33/],
      ['2001:db8::/129', /IPv6 prefix is 0 to 128; this one is 129/],
      ['10.0.0.0/x', /prefix "x" is not a decimal number/],
      ['10.0.0.0/', /prefix "" is not a decimal number/],
      ['10.0.0.0/-1', /prefix "-1" is not a decimal number/],
      ['010.0.0.0/8', /CIDR address: .*leading zero/],
      ['10.0.0/8', /CIDR address: .*exactly 4/],
      ['fe80::1%eth0/64', /CIDR address: .*zone ids/],
    ],
  },
  domain: {
    valid: [
      ['example.com', 'example.com'],
      ['Example.COM.', 'example.com'],
      ['login-micros0ft[.]com', 'login-micros0ft.com'],
      ['secure-paypa1(.)com', 'secure-paypa1.com'],
      ['spiegel[dot]ltd', 'spiegel.ltd'],
      ['WWW.BBC.CO.UK', 'www.bbc.co.uk'],
      ['bücher.de', 'xn--bcher-kva.de'],
      ['BÜCHER.DE', 'xn--bcher-kva.de'],
      ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
      ['пример.рф', 'xn--e1afmkfd.xn--p1ai'],
      ['faß.de', 'xn--fa-hia.de'],
      ['foo.github.io', 'foo.github.io'],
      ['github.io', 'github.io'],
      [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
    ],
    invalid: [
      ['com', /"com" is a public suffix; a domain needs a registrable name/],
      ['co.uk', /"co.uk" is a public suffix/],
      ['localhost', /'.localhost' is not a top-level domain in the Public Suffix List/],
      ['example.invalid', /'.invalid' is not a top-level domain in the Public Suffix List/],
      ['bücher.example', /'.example' is not a top-level domain in the Public Suffix List/],
      ['hxxps://evil[.]com/login', /a URL is not a domain; submit it as type url/],
      ['example.com/path', /a URL is not a domain/],
      ['admin@example.com', /an email address is not a domain; submit it as type email/],
      ['example.com:8080', /no port/],
      ['1.2.3.4', /ends in a number is an IP address.*type ipv4/],
      ['ex_ample.com', /label "ex_ample" is not a valid host name label/],
      ['-bad.com', /label "-bad" is not a valid host name label/],
      ['*.example.com', /label "\*" is not a valid host name label/],
      ['a..com', /empty label/],
      [`${'a'.repeat(64)}.com`, /is 64 characters; a label is at most 63/],
      [`${Array(4).fill('a'.repeat(63)).join('.')}.com`, /at most 253 characters; this one is 259/],
      ['xn--zz.com', /not a valid domain name .*invalid IDN\/punycode/],
      ['exa mple.com', /whitespace/],
      ['ex%61mple.com', /percent-encoding is not part of a domain name/],
    ],
  },
  url: {
    valid: [
      ['hxxps://login-micros0ft[.]com/path', 'https://login-micros0ft.com/path'],
      ['hXXp://secure-update[.]info/wp-admin/x.php', 'http://secure-update.info/wp-admin/x.php'],
      ['https[://]evil[.]com/x', 'https://evil.com/x'],
      ['HTTPS://Example.COM', 'https://example.com/'],
      ['https://Example.COM:443/Login?User=ABC#section', 'https://example.com/Login?User=ABC'],
      ['http://example.com:80/a', 'http://example.com/a'],
      ['https://example.com:8443/a', 'https://example.com:8443/a'],
      ['fxp://files.example.org:21/pub/', 'ftp://files.example.org/pub/'],
      ['https://bücher.de/angebote', 'https://xn--bcher-kva.de/angebote'],
      ['https://example.com./', 'https://example.com/'],
      ['https://example.com/%7euser/a%2fb', 'https://example.com/~user/a%2Fb'],
      ['https://example.com/%41%42%43?q=%7E%3d%3D', 'https://example.com/ABC?q=~%3D%3D'],
      ['https://example.com/Straße', 'https://example.com/Stra%C3%9Fe'],
      ['https://t.co/AbCdEf123', 'https://t.co/AbCdEf123'],
      ['https://example.com/a/./b/../c', 'https://example.com/a/c'],
      ['https://example.com/?', 'https://example.com/'],
      ['https://example.com/search?q=a+b&lang=de', 'https://example.com/search?q=a+b&lang=de'],
      ['https://paypal.com@evil-login.com/', 'https://paypal.com@evil-login.com/'],
      ['https://user:p%61ss@example.com/', 'https://user:pass@example.com/'],
      ['http://[2001:DB8:0:0:0:0:0:1]:8080/x', 'http://[2001:db8::1]:8080/x'],
      ['http://[::ffff:c000:0280]/', 'http://[::ffff:192.0.2.128]/'],
      // Numeric hosts are read as a browser reads them, which is where the link goes.
      ['http://0x7f.1/', 'http://127.0.0.1/'],
      ['http://010.1.2.3/', 'http://8.1.2.3/'],
    ],
    invalid: [
      ['example.com/path', /must start with its scheme \(http:\/\/, https:\/\/ or ftp:\/\/\)/],
      ['www.example.com', /must start with its scheme/],
      ['example.com:8080/path', /must start with its scheme/],
      ['javascript:alert(1)', /scheme 'javascript' is not accepted; only http, https and ftp/],
      ['ws://example.com/', /scheme 'ws' is not accepted/],
      ['file:///etc/passwd', /scheme 'file' is not accepted/],
      ['https:example.com', /'\/\/' after 'https:'/],
      ['http://localhost/admin', /URL host: '.localhost' is not a top-level domain/],
      ['https://co.uk/', /URL host: "co.uk" is a public suffix/],
      ['https://bücher.example/', /URL host: '.example' is not a top-level domain/],
      ['https://ex_ample.com/', /URL host: the label "ex_ample"/],
      ['https://example.com/%zz', /'%' that does not start a %XX escape; write it as %25/],
      ['https://example.com:99999/', /port "99999" is not a number from 0 to 65535/],
      ['https://example.com/a b', /whitespace/],
      ['https://[fe80::1%25eth0]/', /zone ids/],
      ['https://user:pw@/', /no host/],
    ],
  },
  email: {
    valid: [
      ['John.Doe@Example.COM', 'john.doe@example.com'],
      ['security-alert[@]paypa1-support[.]com', 'security-alert@paypa1-support.com'],
      ['billing(@)micros0ft-billing[.]com', 'billing@micros0ft-billing.com'],
      ['noreply[at]bücher.de', 'noreply@xn--bcher-kva.de'],
      ['first.last+tag@gmail.com', 'first.last+tag@gmail.com'],
      ['F.I.R.S.T@GMAIL.COM', 'f.i.r.s.t@gmail.com'],
      ['José@example.com', 'josé@example.com'],
      ['jose\u0301@example.com', 'jos\u00e9@example.com'],
      [' admin@example.co.uk ', 'admin@example.co.uk'],
      ["o'brien@example.ie", "o'brien@example.ie"],
      ['user@Example.COM.', 'user@example.com'],
    ],
    invalid: [
      ['admin', /needs an '@'/],
      ['a@b@example.com', /exactly one '@'; this one has 2/],
      ['@example.com', /empty local part/],
      ['admin@', /empty domain/],
      ['ad min@example.com', /whitespace/],
      ['mailto:admin@example.com', /remove the 'mailto:' prefix/],
      ['"admin"@example.com', /quoted local parts/],
      ['.admin@example.com', /cannot start or end with '.'/],
      ['ad..min@example.com', /two in a row/],
      ['ad(min@example.com', /local part cannot contain "\("/],
      ['admin@localhost', /email domain: '.localhost' is not a top-level domain/],
      ['admin@[1.2.3.4]', /email domain: .*not a valid domain name/],
      [`${'a'.repeat(65)}@example.com`, /longer than 64 bytes/],
    ],
  },
  md5: {
    valid: [
      ['d41d8cd98f00b204e9800998ecf8427e', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['D41D8CD98F00B204E9800998ECF8427E', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['900150983CD24FB0d6963f7d28e17f72', '900150983cd24fb0d6963f7d28e17f72'],
      [' 098f6bcd4621d373cade4e832627b4f6 ', '098f6bcd4621d373cade4e832627b4f6'],
      ['5D41402ABC4B2A76B9719D911017C592', '5d41402abc4b2a76b9719d911017c592'],
      ['5f4dcc3b5aa765d61d8327deb882cf99', '5f4dcc3b5aa765d61d8327deb882cf99'],
      ['44D88612FEA8A8F36DE82E1278ABB02F', '44d88612fea8a8f36de82e1278abb02f'],
      ['00000000000000000000000000000000', '00000000000000000000000000000000'],
    ],
    invalid: [
      ['d41d8cd98f00b204e9800998ecf8427', /exactly 32 hex characters; got 31/],
      ['d41d8cd98f00b204e9800998ecf8427e0', /exactly 32 hex characters; got 33/],
      ['da39a3ee5e6b4b0d3255bfef95601890afd80709', /exactly 32 hex characters; got 40/],
      ['g41d8cd98f00b204e9800998ecf8427e', /hexadecimal; found the character "g"/],
      ['0xd41d8cd98f00b204e9800998ecf842', /found the character "x"/],
      ['d41d8cd9 8f00b204e9800998ecf8427e', /found the character " "/],
    ],
  },
  sha1: {
    valid: [
      ['da39a3ee5e6b4b0d3255bfef95601890afd80709', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
      ['DA39A3EE5E6B4B0D3255BFEF95601890AFD80709', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
      ['A9993E364706816ABA3E25717850C26C9CD0D89D', 'a9993e364706816aba3e25717850c26c9cd0d89d'],
      ['a94a8fe5ccb19ba61c4c0873d391e987982fbbd3', 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'],
      ['AAF4C61DDCC5E8A2dabede0f3b482cd9aea9434d', 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'],
      ['5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8', '5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8'],
      ['\t3395856CE81F2B7382DEE72602F798B642F14140 ', '3395856ce81f2b7382dee72602f798b642f14140'],
      ['ffffffffffffffffffffffffffffffffffffffff', 'ffffffffffffffffffffffffffffffffffffffff'],
    ],
    invalid: [
      ['da39a3ee5e6b4b0d3255bfef95601890afd8070', /exactly 40 hex characters; got 39/],
      ['d41d8cd98f00b204e9800998ecf8427e', /exactly 40 hex characters; got 32/],
      ['da39a3ee5e6b4b0d3255bfef95601890afd8070z', /hexadecimal; found the character "z"/],
      ['da39a3ee-5e6b4b0d3255bfef95601890afd80709', /found the character "-"/],
    ],
  },
  sha256: {
    valid: [
      [
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ],
      [
        'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ],
      [
        'BA7816BF8F01CFEA414140DE5DAE2223b00361a396177a9cb410ff61f20015ad',
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      ],
      [
        '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
        '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      ],
      [
        '2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824',
        '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
      ],
      [
        ' 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8',
        '5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8',
      ],
      [
        '275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F',
        '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f',
      ],
      ['0'.repeat(64), '0'.repeat(64)],
    ],
    invalid: [
      [
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85',
        /exactly 64 hex characters; got 63/,
      ],
      ['d41d8cd98f00b204e9800998ecf8427e', /exactly 64 hex characters; got 32/],
      ['sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', /found the character "s"/],
      ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\u00e9', /found the character "é"/],
    ],
  },
  pdq: {
    valid: [
      [
        'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22',
        'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22',
      ],
      [
        'F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22',
        'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22',
      ],
      [
        '358c86641a5269ab5b0db5f1b2315c1642cef9652c39b6ced9f646d91f071927',
        '358c86641a5269ab5b0db5f1b2315c1642cef9652c39b6ced9f646d91f071927',
      ],
      [
        '358C86641A5269AB5b0db5f1b2315c1642cef9652c39b6ced9f646d91f071927',
        '358c86641a5269ab5b0db5f1b2315c1642cef9652c39b6ced9f646d91f071927',
      ],
      ['0'.repeat(64), '0'.repeat(64)],
      ['F'.repeat(64), 'f'.repeat(64)],
      [
        ' a5f0a457a48995e8c9065c275aaa5498b61ba4bdf8fcf80387c32f8b0bfc4f05 ',
        'a5f0a457a48995e8c9065c275aaa5498b61ba4bdf8fcf80387c32f8b0bfc4f05',
      ],
      ['0123456789ABCDEF'.repeat(4), '0123456789abcdef'.repeat(4)],
    ],
    invalid: [
      ['f'.repeat(63), /PDQ hash \(256 bits\) is exactly 64 hex characters; got 63/],
      ['f'.repeat(65), /got 65/],
      ['f'.repeat(256), /got 256/],
      [`${'f'.repeat(63)}q`, /found the character "q"/],
    ],
  },
  tmk: {
    valid: [
      ['ab'.repeat(16), 'ab'.repeat(16)],
      ['AB'.repeat(16), 'ab'.repeat(16)],
      ['0f'.repeat(1024), '0f'.repeat(1024)],
      ['DEADBEEF'.repeat(256), 'deadbeef'.repeat(256)],
      ['a'.repeat(1_048_576), 'a'.repeat(1_048_576)],
      [` ${'01'.repeat(40)} `, '01'.repeat(40)],
      ['544d4b2b'.repeat(8), '544d4b2b'.repeat(8)],
      ['00'.repeat(100), '00'.repeat(100)],
    ],
    invalid: [
      ['ab'.repeat(15), /TMK\+PDQF hash is 32 to 1048576 hex characters; got 30/],
      ['a'.repeat(1_048_578), /32 to 1048576 hex characters; got 1048578/],
      ['a'.repeat(33), /even number of hex characters; got 33/],
      [`${'ab'.repeat(16)}zz`, /found the character "z"/],
    ],
  },
  social_account: {
    valid: [
      ['@SomeUser', 'someuser', 'twitter'],
      ['https://twitter.com/SomeUser', 'someuser', 'twitter'],
      ['https://x.com/SomeUser?s=21', 'someuser', 'twitter'],
      ['https://www.facebook.com/some.page', 'some.page', 'facebook'],
      ['https://m.facebook.com/profile.php?id=100012345678901', '100012345678901', 'facebook'],
      ['https://www.instagram.com/name/', 'name', 'instagram'],
      ['https://www.tiktok.com/@Name_01', 'name_01', 'tiktok'],
      ['https://www.youtube.com/@NewsChannel', 'newschannel', 'youtube'],
      ['https://www.youtube.com/@%E6%97%A5%E6%9C%AC', '日本', 'youtube'],
      ['https://t.me/RealNewsChannel', 'realnewschannel', 'telegram'],
      ['https://bsky.app/profile/Alice.bsky.social', 'alice.bsky.social', 'bluesky'],
      ['@ИванПетров', 'иванпетров', 'telegram'],
      ['Ivan_Petrov-1985', 'ivan_petrov-1985', 'other'],
      ['@Alice@Mastodon.Social', 'alice@mastodon.social', 'mastodon'],
      ['https://mastodon.social/@Alice', 'alice@mastodon.social', 'mastodon'],
    ],
    invalid: [
      ['someuser', /a social_account needs a platform/],
      ['some user', /handle cannot contain " "/, 'twitter'],
      ['@', /handle is empty/, 'twitter'],
      ['a'.repeat(101), /handle is 101 characters; at most 100/, 'twitter'],
      ['user$name', /handle cannot contain "\$"; only letters, digits/, 'twitter'],
      ['@@handle', /handle cannot contain "@"/, 'twitter'],
      ['https://www.instagram.com/name/', /"instagram.com" is not a twitter profile URL host/, 'twitter'],
      [
        'https://twitter.com/someuser/status/1234',
        /"\/someuser\/status\/1234" is not the path of a twitter profile/,
        'twitter',
      ],
      ['twitter.com/someuser', /contains '\/'.*full profile URL/, 'twitter'],
      ['https://wa.me/15551234567', /profile URLs are not recognized for platform 'whatsapp'/, 'whatsapp'],
      ['alice', /a Mastodon account is user@instance/, 'mastodon'],
      ['@alice@localhost', /Mastodon instance: '.localhost' is not a top-level domain/, 'mastodon'],
    ],
  },
  hashtag: {
    valid: [
      ['#Hashtag', 'hashtag', 'twitter'],
      ['#StopTheSteal', 'stopthesteal', 'facebook'],
      ['Wahl2025', 'wahl2025', 'instagram'],
      ['#ÉlectionsVolées', 'électionsvolées', 'twitter'],
      ['#E\u0301lections', '\u00e9lections', 'twitter'],
      ['#ВыборыУкраины', 'выборыукраины', 'telegram'],
      ['#選挙不正', '選挙不正', 'twitter'],
      ['#COVID19_Hoax', 'covid19_hoax', 'tiktok'],
      ['#😷Masks', '😷masks', 'instagram'],
      [' #Trimmed ', 'trimmed', 'twitter'],
      [`#${'A'.repeat(280)}`, 'a'.repeat(280), 'twitter'],
    ],
    invalid: [
      ['#Hashtag', /a hashtag needs a platform/],
      ['#', /empty after the leading '#'/, 'twitter'],
      ['#two words', /whitespace/, 'twitter'],
      ['##double', /'#' after the leading one/, 'twitter'],
      [`#${'a'.repeat(281)}`, /281 characters; at most 280/, 'twitter'],
      ['#tag\u0007bell', /control character U\+0007/, 'twitter'],
    ],
  },
  asn: {
    valid: [
      ['AS15169', 'AS15169'],
      ['as15169', 'AS15169'],
      ['ASN15169', 'AS15169'],
      ['asn13335', 'AS13335'],
      ['15169', 'AS15169'],
      [' AS9009 ', 'AS9009'],
      ['AS015169', 'AS15169'],
      ['AS1', 'AS1'],
      ['AS4294967295', 'AS4294967295'],
    ],
    invalid: [
      ['AS0', /AS0 is reserved/],
      ['0', /AS0 is reserved/],
      ['AS4294967296', /from 1 to 4294967295; got 4294967296/],
      ['AS-1', /looks like AS15169, ASN15169 or 15169/],
      ['AS 15169', /looks like AS15169/],
      ['AS1.10', /looks like AS15169/],
      ['Google', /looks like AS15169/],
    ],
  },
  phone: {
    valid: [
      ['+1 415-555-0123', '+14155550123'],
      ['+1 (415) 555-0123', '+14155550123'],
      ['+1.415.555.0123', '+14155550123'],
      ['+14155550123', '+14155550123'],
      ['+44 20 7946 0958', '+442079460958'],
      ['+33 6 12 34 56 78', '+33612345678'],
      ['+49 30 901820', '+4930901820'],
      ['+7 912 345-67-89', '+79123456789'],
      ['+55 11 91234-5678', '+5511912345678'],
      ['+91 98765 43210', '+919876543210'],
      ['+380 44 123 4567', '+380441234567'],
    ],
    invalid: [
      ['4155550123', /must start with \+ and its country calling code.*ambiguous/],
      ['0044 20 7946 0958', /must start with \+/],
      ['tel:+14155550123', /must start with \+/],
      ['+1 415 555 0123 ext. 12', /only digits, spaces, dashes, dots and parentheses/],
      ['+1 800 FLOWERS', /only digits/],
      ['+999 123 456', /country calling code after \+ does not exist/],
      ['+12', /too short/],
      ['+1 555 555 5555', /\+15555555555 is not a valid phone number/],
    ],
  },
};

/** Test titles stay readable when a case is a megabyte of hex. */
function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 40)}...(${text.length} chars)` : text);
}

describe('canonicalize', () => {
  for (const [type, { valid, invalid }] of Object.entries(CASES) as [
    IndicatorType,
    (typeof CASES)[IndicatorType],
  ][]) {
    describe(type, () => {
      for (const [input, expected, platform] of valid) {
        it(`turns ${show(input)} into ${show(expected)}`, () => {
          expect(canonicalize(type, input, platform)).toBe(expected);
        });

        it(`is idempotent on the canonical form of ${show(input)}`, () => {
          const once = canonicalize(type, input, platform);
          expect(canonicalize(type, once, platform)).toBe(once);
        });
      }

      for (const [input, reason, platform] of invalid) {
        it(`rejects ${show(input)} saying ${reason.source}`, () => {
          const err = rejectionOf(type, input, platform);
          expect(err.code).toBe('TR_INVALID_VALUE');
          expect(err.httpStatus).toBe(400);
          expect(err.message).toMatch(reason);
          const path = /needs a platform/.test(err.message) ? 'platform' : 'value';
          expect(err.details).toEqual([{ path, message: err.message }]);
        });
      }
    });
  }

  it('has at least eight valid and four invalid cases for every type', () => {
    for (const { valid, invalid } of Object.values(CASES)) {
      expect(valid.length).toBeGreaterThanOrEqual(8);
      expect(invalid.length).toBeGreaterThanOrEqual(4);
    }
  });

  it('ignores a platform given for a type that does not use one', () => {
    expect(canonicalize('domain', 'Example.com', 'twitter')).toBe('example.com');
  });
});

describe('one indicator, one key', () => {
  const spellingsOf: [IndicatorType, string[], Platform?][] = [
    [
      'url',
      [
        'https://xn--bcher-kva.de/~angebot?id=7',
        'hxxps://BÜCHER[.]de/%7eangebot?id=7',
        'HTTPS://bücher.de:443/%7Eangebot?id=7#kaufen',
        'hXXps[://]xn--BCHER-KVA[.]DE./%7Eangebot?id=%37',
      ],
    ],
    ['domain', ['bücher.de', 'BÜCHER[.]DE.', 'xn--bcher-kva.de', 'XN--BCHER-KVA[dot]de']],
    ['email', ['Support@Bücher.de', 'support[@]xn--bcher-kva[.]de', 'SUPPORT(@)BÜCHER(.)DE']],
    [
      'ipv6',
      ['2001:db8::1', '2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0::1', '2001[:]db8[:][:]1'],
    ],
    ['cidr', ['10.1.2.3/8', '10.0.0.0/8', '10.255.255.255/8', '10[.]0[.]0[.]0/8']],
    [
      'sha256',
      [
        'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ],
    ],
    [
      'social_account',
      ['@SomeUser', 'someuser', 'https://twitter.com/SomeUser', 'https://x.com/someuser/'],
      'twitter',
    ],
    ['hashtag', ['#Élections', 'élections', '#E\u0301LECTIONS'], 'twitter'],
    ['asn', ['AS15169', 'asn15169', '15169']],
    ['phone', ['+1 (415) 555-0123', '+1.415.555.0123', '+14155550123']],
  ];

  // A loop, not it.each: a row without a platform would give jest a test
  // function with more parameters than values, which it reads as a `done` callback.
  for (const [type, spellings, platform] of spellingsOf) {
    it(`gives every spelling of a ${type} the same key`, () => {
      const keys = new Set(
        spellings.map((spelling) =>
          identityKey(
            CANONICALIZATION_VERSION,
            type,
            platform ?? null,
            canonicalize(type, spelling, platform),
          ),
        ),
      );
      expect(keys.size).toBe(1);
    });
  }
});

it('records canonicalization version 2', () => {
  expect(CANONICALIZATION_VERSION).toBe(2);
});
