import { ThreatRelayError } from '../errors';

/**
 * MISP writes regex entries as PHP (PCRE) patterns with delimiters and flags,
 * `/^(abuse|noc)\@.*$/i`. The flags JavaScript shares are kept; one it lacks
 * (`x`, extended) refuses the entry, since dropping it would change what the
 * pattern matches. `g` only matters to a PHP preg_match_all and is ignored.
 */
export function compileMispRegex(entry: string): RegExp {
  const delimiter = entry[0];
  if (delimiter === undefined || /[A-Za-z0-9\\\s]/.test(delimiter)) {
    return tryCompile(entry, '', entry);
  }
  const closing =
    ({ '(': ')', '{': '}', '[': ']', '<': '>' } as Record<string, string>)[delimiter] ?? delimiter;
  const end = entry.lastIndexOf(closing);
  if (end <= 0) throw refused(entry, `no closing ${closing} delimiter`);
  const flags = entry.slice(end + 1);
  const unsupported = [...flags].filter((f) => !'imsug'.includes(f));
  if (unsupported.length > 0)
    throw refused(entry, `PCRE flag(s) ${unsupported.join('')} have no JavaScript equivalent`);
  return tryCompile(entry.slice(1, end), [...new Set(flags.replace('g', ''))].join(''), entry);
}

function tryCompile(source: string, flags: string, entry: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw refused(entry, (err as Error).message);
  }
}

function refused(entry: string, why: string): ThreatRelayError {
  return new ThreatRelayError('TR_VALIDATION', `regex entry ${JSON.stringify(entry)} cannot be used: ${why}`);
}
