/**
 * HTTP Basic credentials (RFC 7617), read one way by every service that takes
 * them (the console's operators, the TAXII servers' readers). Anything not
 * exactly `Basic <base64 of user:password>` is no credentials at all: base64
 * that does not round-trip, bytes that are not UTF-8 (never decoded into
 * replacement characters that might match something), no colon, an empty
 * user, or a control character in either part.
 */

export interface BasicCredentials {
  username: string;
  password: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The username and password of an `Authorization: Basic …` header, or undefined. */
export function parseBasic(header: string | undefined): BasicCredentials | undefined {
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header ?? '');
  if (!m) return undefined;
  const token = m[1]!;
  const bytes = Buffer.from(token, 'base64');
  // Node skips what it cannot read; only a token that re-encodes to itself was base64.
  if (bytes.toString('base64').replace(/=+$/, '') !== token.replace(/=+$/, '')) return undefined;
  let decoded: string;
  try {
    decoded = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
