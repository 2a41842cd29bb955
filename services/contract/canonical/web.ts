import { domainToASCII } from 'node:url';
import { parse as parseHostname } from 'tldts';
import { invalid, quote, within } from './invalid';
import { canonicalIpv6 } from './network';

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export function canonicalDomain(value: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.includes('/')) {
    invalid('a URL is not a domain; submit it as type url, or give only its host name');
  }
  if (value.includes('@')) invalid('an email address is not a domain; submit it as type email');
  if (/\s/u.test(value)) invalid('a domain cannot contain whitespace');
  if (value.includes(':')) invalid("a domain cannot contain ':' (no port; an IPv6 address is type ipv6)");
  // domainToASCII runs the full URL host parser, which would percent-decode
  // and turn numeric names into IPv4 addresses: refuse both before it can.
  if (value.includes('%'))
    invalid("a domain cannot contain '%' (percent-encoding is not part of a domain name)");
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  const lastLabel = name.slice(name.lastIndexOf('.') + 1);
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(lastLabel)) {
    invalid('a name that ends in a number is an IP address, not a domain; submit it as type ipv4');
  }

  const ascii = domainToASCII(name);
  if (ascii === '')
    invalid(
      `${quote(name)} is not a valid domain name (a forbidden character, or an invalid IDN/punycode label)`,
    );
  if (ascii.length > 253)
    invalid(`a domain is at most 253 characters; this one is ${ascii.length} in ASCII (punycode) form`);
  for (const label of ascii.split('.')) {
    if (label === '') invalid('a domain cannot have an empty label (two dots in a row, or a leading dot)');
    if (label.length > 63)
      invalid(`the label ${quote(label)} is ${label.length} characters; a label is at most 63`);
    if (!LDH_LABEL.test(label)) {
      invalid(
        `the label ${quote(label)} is not a valid host name label: only letters, digits and '-' (not first or last)`,
      );
    }
  }

  // Only the ICANN section counts: a private-section suffix (github.io,
  // blogspot.com) is still a name someone registered, and can be an indicator.
  const parsed = parseHostname(ascii);
  if (!parsed.isIcann) {
    const tld = ascii.slice(ascii.lastIndexOf('.') + 1);
    invalid(`'.${tld}' is not a top-level domain in the Public Suffix List`);
  }
  if (parsed.domain === null) {
    invalid(
      `${quote(ascii)} is a public suffix; a domain needs a registrable name in front of it (like example.${ascii})`,
    );
  }
  return ascii;
}

const URL_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'ftp']);
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/*
 * The WHATWG URL parser (what browsers use) does the structural work. A
 * numeric host is read the way a browser reads it (`0x7f.1` is 127.0.0.1),
 * because that is where the link really goes. The fragment and an empty `?`
 * are dropped: neither reaches the server. In the path and query only
 * percent-encoding is normalized (RFC 3986 section 6.2.2.2); text that looks
 * defanged is left as written there (see defang.ts). Userinfo is KEPT as
 * written: in `https://paypal.com@evil.example/` it is the lure itself.
 */
export function canonicalUrl(value: string): string {
  if (/\s/u.test(value)) invalid('a URL cannot contain whitespace; percent-encode it (a space is %20)');
  const written = /^([a-z][a-z0-9+.-]*):(\/\/)?/i.exec(value);
  // `example.com:8080/path` also parses as a scheme; it is a host and port.
  const hostAndPort = written !== null && written[2] === undefined && /^[^:]*:\d/.test(value);
  if (written === null || hostAndPort) {
    invalid(
      'a URL must start with its scheme (http://, https:// or ftp://); a bare host name is type domain',
    );
  }
  const scheme = written[1].toLowerCase();
  if (!URL_SCHEMES.has(scheme))
    invalid(`the URL scheme '${scheme}' is not accepted; only http, https and ftp are`);
  if (written[2] === undefined) invalid(`write the URL with '//' after '${scheme}:'`);

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid(explainUnparseableUrl(value));
  }

  const host = within('URL host', () => canonicalUrlHost(url.hostname));
  const parts = [url.username, url.password, url.pathname, url.search];
  if (parts.some((part) => /%(?![0-9A-Fa-f]{2})/.test(part))) {
    invalid("the URL has a '%' that does not start a %XX escape; write it as %25");
  }
  const [username, password, pathname, search] = parts.map(normalizePercentEncoding) as [
    string,
    string,
    string,
    string,
  ];
  const userinfo =
    username === '' && password === '' ? '' : `${username}${password === '' ? '' : `:${password}`}@`;
  const port = url.port === '' ? '' : `:${url.port}`;
  return `${scheme}://${userinfo}${host}${port}${pathname}${search}`;
}

function canonicalUrlHost(hostname: string): string {
  if (hostname.startsWith('[')) return `[${canonicalIpv6(hostname.slice(1, -1))}]`;
  // The parser has already rewritten any numeric host as a dotted quad.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) return hostname;
  return canonicalDomain(hostname);
}

function explainUnparseableUrl(value: string): string {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(value)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  if (hostPort === '') return 'the URL has no host';
  const bracketed = hostPort.startsWith('[');
  if (bracketed && hostPort.includes('%'))
    return 'URL host: IPv6 zone ids (%25eth0) are local to one host and are not accepted';
  const port = (bracketed ? /^\[[^\]]*\]:(.*)$/ : /^[^:]*:(.*)$/).exec(hostPort)?.[1];
  if (port !== undefined && port !== '' && (!/^\d+$/.test(port) || Number(port) > 65535)) {
    return `the URL port ${quote(port)} is not a number from 0 to 65535`;
  }
  return `the URL host ${quote(hostPort)} is not a valid host name or IP address`;
}

function normalizePercentEncoding(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

const EMAIL_LOCAL_CHAR = /[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]/u;

/*
 * The local part is LOWERCASED. RFC 5321 lets it be case-sensitive, but every
 * large mail provider treats it case-insensitively, and two orgs writing
 * `John.Doe@` and `john.doe@` mean the same mailbox; dedup across orgs
 * matters more here than a distinction no real server makes. Provider rules
 * beyond case (Gmail dots, +tags) are NOT applied: they differ per provider.
 */
export function canonicalEmail(value: string): string {
  if (/^mailto:/i.test(value))
    invalid("remove the 'mailto:' prefix; an email indicator is just local@domain");
  if (/\s/u.test(value)) invalid('an email address cannot contain whitespace');
  const parts = value.split('@');
  if (parts.length < 2) invalid("an email address needs an '@'");
  if (parts.length > 2) invalid(`an email address has exactly one '@'; this one has ${parts.length - 1}`);
  const [local = '', domain = ''] = parts;
  if (local === '') invalid("the email address has an empty local part (before '@')");
  if (domain === '') invalid("the email address has an empty domain (after '@')");
  if (local.startsWith('"')) invalid('quoted local parts ("..."@domain) are not accepted');
  if (Buffer.byteLength(local, 'utf8') > 64) invalid('the email local part is longer than 64 bytes');
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    invalid("the email local part cannot start or end with '.' or have two in a row");
  }
  const bad = [...local].find((char) => char !== '.' && !EMAIL_LOCAL_CHAR.test(char));
  if (bad !== undefined) invalid(`the email local part cannot contain ${quote(bad)}`);
  const canonicalDomainPart = within('email domain', () => canonicalDomain(domain));
  return `${local.toLowerCase().normalize('NFC')}@${canonicalDomainPart}`;
}
