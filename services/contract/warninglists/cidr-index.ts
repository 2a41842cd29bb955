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
 * The key of an address's first `length` bits: for IPv4 a number (the
 * address shifted right), for IPv6 a string of '0' and '1' (no 128-bit
 * integers without BigInt, which is slower than a string slice).
 */
type Parsed = { family: 4; address: number; bits: 32 } | { family: 6; address: string; bits: 128 };

function parseAddress(address: string): Parsed {
  if (address.includes(':')) {
    const bits = parseIpv6(address.toLowerCase())
      .map((g) => g.toString(2).padStart(16, '0'))
      .join('');
    return { family: 6, address: bits, bits: 128 };
  }
  return { family: 4, address: parseIpv4(address), bits: 32 };
}

function keyOf(parsed: Parsed, length: number): string | number {
  if (parsed.family === 6) return parsed.address.slice(0, length);
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
