import { canonicalCidr, parseIpv4, parseIpv6 } from '../canonical/network';

/**
 * Containment of an address (or a whole network) in any of many CIDR blocks:
 * one hash map per prefix length that occurs, keyed by the block's leading
 * bits. A lookup costs one map probe per distinct prefix length in the data
 * (a few dozen at most), not one per block, so 60,000 resolver addresses cost
 * what 6 ranges do.
 */

type Family = 4 | 6;

interface FamilyIndex<T> {
  /** Prefix lengths present, ascending. */
  lengths: number[];
  byLength: Map<number, Map<string | number, T[]>>;
}

/**
 * An address read for keying: IPv4 as a number, IPv6 as 32 hex digits (no
 * 128-bit integers without BigInt, which is slower than slicing a string).
 */
type Parsed = { family: 4; address: number; bits: 32 } | { family: 6; address: string; bits: 128 };

/**
 * Canonical values (what the canonicalizer writes and the index is asked
 * about) are read with a quick scan; anything else goes through the strict
 * parsers, which name what is wrong.
 */
function parseAddress(address: string): Parsed {
  if (address.includes(':')) {
    const hex = quickIpv6Hex(address) ?? parseIpv6(address.toLowerCase()).map(hex4).join('');
    return { family: 6, address: hex, bits: 128 };
  }
  return { family: 4, address: quickIpv4(address) ?? parseIpv4(address), bits: 32 };
}

function hex4(group: number): string {
  return group.toString(16).padStart(4, '0');
}

function quickIpv4(text: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots += 1;
    } else if (c >= 48 && c <= 57 && digits < 3 && !(digits === 1 && part === 0)) {
      part = part * 10 + (c - 48);
      digits += 1;
    } else {
      return undefined;
    }
  }
  return dots === 3 && digits > 0 && part <= 255 ? value * 256 + part : undefined;
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/;

/** RFC 5952 text without an embedded IPv4 tail, as 32 hex digits; undefined for anything else. */
function quickIpv6Hex(text: string): string | undefined {
  if (text.includes('.')) return undefined;
  const halves = text.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  let hex = '';
  for (const group of head) {
    if (!HEX_GROUP.test(group)) return undefined;
    hex += group.padStart(4, '0');
  }
  hex += '0000'.repeat(halves.length === 2 ? missing : 0);
  for (const group of tail) {
    if (!HEX_GROUP.test(group)) return undefined;
    hex += group.padStart(4, '0');
  }
  return hex;
}

/** The key of an address's first `length` bits. */
function keyOf(parsed: Parsed, length: number): string | number {
  if (parsed.family === 6) {
    const whole = length >> 2;
    const rest = length & 3;
    if (rest === 0) return parsed.address.slice(0, whole);
    return `${parsed.address.slice(0, whole)}/${parseInt(parsed.address[whole]!, 16) >> (4 - rest)}`;
  }
  // `>>> 32` shifts by 0 in JavaScript: /0 has the one key 0.
  return length === 0 ? 0 : parsed.address >>> (32 - length);
}

export class CidrIndex<T> {
  private readonly families: Record<Family, FamilyIndex<T>> = {
    4: { lengths: [], byLength: new Map() },
    6: { lengths: [], byLength: new Map() },
  };

  /**
   * Adds a block (`10.0.0.0/8`, or a bare address for a /32 or /128) and
   * returns its canonical form; throws TR_INVALID_VALUE for anything else.
   */
  add(entry: string, ref: T): string {
    const text = entry.trim();
    const withPrefix = text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`;
    const canonical = canonicalCidr(withPrefix);
    const slash = canonical.indexOf('/');
    const prefix = Number(canonical.slice(slash + 1));
    const parsed = parseAddress(canonical.slice(0, slash));
    const index = this.families[parsed.family];
    let keyed = index.byLength.get(prefix);
    if (!keyed) {
      keyed = new Map();
      index.byLength.set(prefix, keyed);
      index.lengths = [...index.byLength.keys()].sort((a, b) => a - b);
    }
    const key = keyOf(parsed, prefix);
    const refs = keyed.get(key);
    if (refs) refs.push(ref);
    else keyed.set(key, [ref]);
    return canonical;
  }

  /**
   * Every block holding `address`, or with `prefix` every block holding the
   * whole network `address/prefix`; `visit` gets the block's refs and its
   * prefix length. An address that does not parse holds nothing.
   */
  lookup(address: string, visit: (refs: readonly T[], prefix: number) => void, prefix?: number): void {
    let parsed: Parsed;
    try {
      parsed = parseAddress(address);
    } catch {
      return;
    }
    const index = this.families[parsed.family];
    const longest = prefix ?? parsed.bits;
    for (const length of index.lengths) {
      if (length > longest) break;
      const refs = index.byLength.get(length)!.get(keyOf(parsed, length));
      if (refs) visit(refs, length);
    }
  }
}
