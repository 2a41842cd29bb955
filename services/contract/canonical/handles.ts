import { ParseError, parsePhoneNumberWithError } from 'libphonenumber-js';
import type { PhoneNumber } from 'libphonenumber-js';
import type { Platform } from '../model';
import { invalid, quote, within } from './invalid';
import { canonicalDomain } from './web';

const HANDLE_CHAR = /[\p{L}\p{M}\p{N}_.-]/u;
const MAX_HANDLE = 100;

/** Letters of any script are allowed: YouTube and Facebook names are not ASCII-only. */
function validHandle(handle: string, what: string): string {
  const lower = handle.toLowerCase().normalize('NFC');
  const length = [...lower].length;
  if (length === 0) invalid(`the ${what} is empty`);
  if (length > MAX_HANDLE) invalid(`the ${what} is ${length} characters; at most ${MAX_HANDLE}`);
  const bad = [...lower].find((char) => !HANDLE_CHAR.test(char));
  if (bad !== undefined)
    invalid(`the ${what} cannot contain ${quote(bad)}; only letters, digits, '_', '.' and '-'`);
  return lower;
}

interface ProfileUrl {
  hosts: readonly string[];
  /** The handle in a profile URL's path, or undefined when the path is not a profile. */
  handle: (url: URL) => string | undefined;
}

function pathHandle(pattern: RegExp): ProfileUrl['handle'] {
  return (url) => pattern.exec(url.pathname)?.[1];
}

const SINGLE_SEGMENT = pathHandle(/^\/([^/]+)\/?$/);
const AT_SEGMENT = pathHandle(/^\/@([^/]+)\/?$/);

const PROFILE_URLS: Partial<Record<Platform, ProfileUrl>> = {
  twitter: { hosts: ['twitter.com', 'x.com', 'mobile.twitter.com', 'mobile.x.com'], handle: SINGLE_SEGMENT },
  facebook: {
    hosts: ['facebook.com', 'm.facebook.com', 'web.facebook.com', 'fb.com'],
    handle: (url) =>
      url.pathname === '/profile.php' ? (url.searchParams.get('id') ?? undefined) : SINGLE_SEGMENT(url),
  },
  instagram: { hosts: ['instagram.com'], handle: SINGLE_SEGMENT },
  threads: { hosts: ['threads.net', 'threads.com'], handle: AT_SEGMENT },
  tiktok: { hosts: ['tiktok.com', 'm.tiktok.com'], handle: AT_SEGMENT },
  youtube: { hosts: ['youtube.com', 'm.youtube.com'], handle: AT_SEGMENT },
  telegram: { hosts: ['t.me', 'telegram.me'], handle: SINGLE_SEGMENT },
  reddit: { hosts: ['reddit.com', 'old.reddit.com'], handle: pathHandle(/^\/(?:u|user)\/([^/]+)\/?$/) },
  linkedin: { hosts: ['linkedin.com'], handle: pathHandle(/^\/in\/([^/]+)\/?$/) },
  snapchat: { hosts: ['snapchat.com'], handle: pathHandle(/^\/add\/([^/]+)\/?$/) },
  bluesky: { hosts: ['bsky.app'], handle: pathHandle(/^\/profile\/([^/]+)\/?$/) },
};

function handleFromProfileUrl(value: string, platform: Platform): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid('the profile URL cannot be parsed');
  }
  const host = url.hostname.replace(/^www\./, '');
  if (platform === 'mastodon') {
    // Any server can be a Mastodon instance, so the instance is the URL host.
    const user = AT_SEGMENT(url);
    if (user === undefined) invalid('a Mastodon profile URL looks like https://instance.example/@user');
    return `${decodeSegment(user)}@${host}`;
  }
  const profile = PROFILE_URLS[platform];
  if (profile === undefined)
    invalid(`profile URLs are not recognized for platform '${platform}'; give the handle itself`);
  if (!profile.hosts.includes(host)) {
    invalid(`${quote(host)} is not a ${platform} profile URL host (expected ${profile.hosts.join(', ')})`);
  }
  const handle = profile.handle(url);
  if (handle === undefined) invalid(`${quote(url.pathname)} is not the path of a ${platform} profile`);
  return decodeSegment(handle);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    invalid(`the profile URL path ${quote(segment)} has invalid percent-encoding`);
  }
}

export function canonicalSocialAccount(value: string, platform: Platform | null): string {
  if (platform === null) invalid('a social_account needs a platform', 'platform');
  let handle = /^https?:\/\//i.test(value) ? handleFromProfileUrl(value, platform) : value;
  if (handle.includes('/'))
    invalid("the handle contains '/'; give the handle itself or the full profile URL starting with https://");
  if (handle.startsWith('@')) handle = handle.slice(1);
  if (platform === 'mastodon') {
    // A bare Mastodon name exists on every instance: without it the key would
    // merge unrelated accounts.
    const parts = handle.split('@');
    if (parts.length !== 2)
      invalid('a Mastodon account is user@instance (for example @alice@mastodon.social)');
    const [user = '', instance = ''] = parts;
    return `${validHandle(user, 'Mastodon user name')}@${within('Mastodon instance', () => canonicalDomain(instance))}`;
  }
  return validHandle(handle, 'handle');
}

const MAX_HASHTAG = 280;

export function canonicalHashtag(value: string, platform: Platform | null): string {
  if (platform === null) invalid('a hashtag needs a platform', 'platform');
  const tag = value.startsWith('#') ? value.slice(1) : value;
  if (tag.includes('#')) invalid("a hashtag cannot contain '#' after the leading one");
  if (/\s/u.test(tag)) invalid('a hashtag cannot contain whitespace');
  const lower = tag.toLowerCase().normalize('NFC');
  const length = [...lower].length;
  if (length === 0) invalid("the hashtag is empty after the leading '#'");
  if (length > MAX_HASHTAG) invalid(`the hashtag is ${length} characters; at most ${MAX_HASHTAG}`);
  return lower;
}

const PHONE_PARSE_ERRORS: Record<string, string> = {
  INVALID_COUNTRY: 'the country calling code after + does not exist',
  TOO_SHORT: 'the phone number is too short',
  TOO_LONG: 'the phone number is too long',
  NOT_A_NUMBER: 'the value is not a phone number',
  INVALID_LENGTH: 'the phone number has a length no number in its country has',
};

/*
 * A number must pass isValid(), not only isPossible(): isPossible checks the
 * length alone, so +1 555 555 5555 (no such area code) would pass it. With
 * the bundled `min` metadata, isValid matches the country's number ranges;
 * a range opened after the installed libphonenumber-js is rejected until the
 * package is updated.
 */
export function canonicalPhone(value: string): string {
  if (!value.startsWith('+')) {
    invalid(
      'a phone number must start with + and its country calling code (E.164); without it the country is ambiguous',
    );
  }
  if (!/^\+[0-9 ().-]+$/.test(value)) {
    invalid('after the +, a phone number may contain only digits, spaces, dashes, dots and parentheses');
  }
  let phone: PhoneNumber;
  try {
    phone = parsePhoneNumberWithError(value, { extract: false });
  } catch (err) {
    if (err instanceof ParseError)
      invalid(PHONE_PARSE_ERRORS[err.message] ?? `the phone number cannot be parsed (${err.message})`);
    throw err;
  }
  if (!phone.isValid()) {
    const where = phone.country === undefined ? `calling code +${phone.countryCallingCode}` : phone.country;
    invalid(`${phone.number} is not a valid phone number for ${where}`);
  }
  return phone.number;
}
