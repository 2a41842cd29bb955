import type { IndicatorType } from '../model';

const REFANG_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\[:\/\/\]/g, '://'],
  [/\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)/gi, '.'],
  [/\[:\]/g, ':'],
  [/\[@\]|\(@\)|\[at\]/gi, '@'],
  // Only a scheme position is rewritten, so a host like `hxxpress.com` survives.
  [/^hxxps(?=:\/\/)/i, 'https'],
  [/^hxxp(?=:\/\/)/i, 'http'],
  [/^fxp(?=:\/\/)/i, 'ftp'],
];

/** Undoes the usual defanging conventions analysts apply so indicators are not clickable. */
export function refang(value: string): string {
  return REFANG_RULES.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), value);
}

/**
 * A URL's scheme and authority (userinfo, host, port), written plain or
 * defanged (`hxxps[://]`, `[:]//`). The defang markers never contain `/`,
 * `\`, `?` or `#`, so the authority ends where the URL parser ends it.
 */
const URL_HEAD = /^[a-z][a-z0-9+.-]*(?:\[:\/\/\]|\[:\]\/\/|:\/\/)[^/?#\\]*/i;

/**
 * Analysts defang the part that makes a URL clickable: scheme and host. The
 * path and query are the exact bytes of the request, where `(dot)` or `[.]`
 * can be literal text, so they are left as written.
 */
function refangUrl(value: string): string {
  const head = URL_HEAD.exec(value)?.[0];
  // No scheme: the URL is refused anyway, with the same reason as before.
  if (head === undefined) return refang(value);
  return refang(head) + value.slice(head.length);
}

const WHOLE_VALUE: ReadonlySet<IndicatorType> = new Set(['ipv4', 'ipv6', 'cidr', 'domain', 'email']);

/** The value with defanging undone where analysts defang a value of this type. */
export function refangValue(type: IndicatorType, value: string): string {
  if (type === 'url') return refangUrl(value);
  return WHOLE_VALUE.has(type) ? refang(value) : value;
}
