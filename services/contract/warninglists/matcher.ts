import { domainToASCII } from 'node:url';
import { ThreatRelayError, isThreatRelayError, type ErrorDetail } from '../errors';
import type { IndicatorType } from '../model';
import { CidrIndex } from './cidr-index';
import type { ListType, Warning, Warninglist, WarninglistMatch } from './list-file';
import { compileMispRegex } from './regex';
import { kindsOf, probesOf, type Probe, type ValueKind } from './targets';

/**
 * Which warninglists a value is on, following each list's type as MISP does:
 * `hostname` matches the host and every subdomain of it, `string` only the
 * exact value (so a subdomain of a user-content host on an exact list is
 * NOT matched: that is where phishing lives), `cidr` by containment,
 * `substring` by inclusion, `regex` by a match. Every list of one type shares
 * one structure: exact values and hostnames in hash maps (a hostname costs one
 * probe per label), CIDR blocks in a map per prefix length. Substring and
 * regex entries are scanned, and so cost what those lists hold (a few dozen
 * entries in the snapshot). Comparisons ignore case.
 */

interface LoadedList {
  id: string;
  title: string;
  version: number;
  type: ListType;
  kinds: ReadonlySet<ValueKind>;
}

interface Ref {
  list: LoadedList;
  entry: string;
}

/**
 * A list's substring entries become one alternation, built when first
 * needed (the regular expression engine looks for all of them in one pass,
 * which beats a loop of `includes`); regex entries stay one pattern each.
 */
interface Scanned {
  substrings: string[];
  anyOf?: RegExp;
  regexes: { entry: string; pattern: RegExp }[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export class WarninglistIndex {
  private readonly byId = new Map<string, LoadedList>();
  private readonly exact = new Map<string, Ref[]>();
  private readonly hostnames = new Map<string, Ref[]>();
  private readonly cidrs = new CidrIndex<Ref>();
  /** Substring and regex entries, by list: whether a list applies is asked once per lookup, not per entry. */
  private readonly scanned = new Map<LoadedList, Scanned>();
  private readonly scannedByProbe = new Map<string, [LoadedList, Scanned][]>();
  private versionsById: Map<string, number> | undefined;

  /**
   * Builds the index; an entry that cannot be used (a CIDR that does not
   * parse, a regex JavaScript cannot run) refuses the whole build, every
   * such entry listed by `<list>.list.<index>`.
   */
  constructor(lists: readonly Warninglist[]) {
    const problems: ErrorDetail[] = [];
    for (const { id, file } of lists) {
      if (this.byId.has(id)) {
        problems.push({ path: id, message: 'the list is given twice' });
        continue;
      }
      const list: LoadedList = {
        id,
        title: file.name,
        version: file.version,
        type: file.type,
        kinds: kindsOf(file.matching_attributes),
      };
      this.byId.set(id, list);
      file.list.forEach((entry, index) => {
        try {
          this.add(list, entry);
        } catch (err) {
          if (!isThreatRelayError(err)) throw err;
          problems.push({ path: `${id}.list.${index}`, message: err.message });
        }
      });
    }
    if (problems.length > 0) {
      throw new ThreatRelayError(
        'TR_VALIDATION',
        `${problems.length} warninglist entry(ies) cannot be used`,
        {
          details: problems,
        },
      );
    }
  }

  /** The lists loaded, by id, with their versions. */
  get lists(): Warning[] {
    return [...this.byId.values()].map((l) => ({ list: l.id, version: l.version }));
  }

  /** The version of each list loaded, by id: what `mergeWarnings` checks a record's claims against. */
  get versions(): ReadonlyMap<string, number> {
    this.versionsById ??= new Map([...this.byId.values()].map((l) => [l.id, l.version]));
    return this.versionsById;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  private add(list: LoadedList, raw: string): void {
    const entry = raw.trim();
    if (entry === '') return;
    switch (list.type) {
      case 'cidr':
        this.cidrs.add(entry, { list, entry });
        return;
      case 'hostname':
        push(this.hostnames, hostnameKey(entry), { list, entry });
        return;
      case 'string':
        push(this.exact, entry.toLowerCase(), { list, entry });
        return;
      case 'substring':
        this.scannedOf(list).substrings.push(entry.toLowerCase());
        return;
      case 'regex':
        this.scannedOf(list).regexes.push({ entry, pattern: compileMispRegex(entry) });
        return;
    }
  }

  private scannedOf(list: LoadedList): Scanned {
    let lists = this.scanned.get(list);
    if (!lists) {
      lists = { substrings: [], regexes: [] };
      this.scanned.set(list, lists);
    }
    return lists;
  }

  /** Every list the canonical `value` of `type` is on, once per list, with the entry that matched. */
  match(type: IndicatorType, value: string): WarninglistMatch[] {
    const found: WarninglistMatch[] = [];
    for (const probe of probesOf(type, value)) {
      const note = (ref: Ref): void => {
        if (!applies(ref.list, probe) || found.some((m) => m.list === ref.list.id)) return;
        const { id, title, version, type: listType } = ref.list;
        found.push({ list: id, version, title, type: listType, entry: ref.entry, on: probe.on });
      };
      this.lookup(probe, note);
    }
    return found.length > 1 ? found.sort((a, b) => (a.list < b.list ? -1 : 1)) : found;
  }

  /** What a receipt and a record carry: `{list, version}` of every matching list, by list id. */
  warnings(type: IndicatorType, value: string): Warning[] {
    return this.match(type, value).map(({ list, version }) => ({ list, version }));
  }

  /** The scanned lists that apply to a kind of probe, worked out once per kind. */
  private scannedFor(probe: Probe): readonly [LoadedList, Scanned][] {
    const key = `${probe.on}:${probe.kind}`;
    let lists = this.scannedByProbe.get(key);
    if (!lists) {
      lists = [...this.scanned].filter(([list]) => applies(list, probe));
      this.scannedByProbe.set(key, lists);
    }
    return lists;
  }

  private lookup(probe: Probe, note: (ref: Ref) => void): void {
    const lower = probe.value.toLowerCase();
    for (const ref of this.exact.get(lower) ?? []) note(ref);
    if (probe.kind === 'domain') {
      for (let at = 0; at >= 0; at = lower.indexOf('.', at) + 1 || -1) {
        for (const ref of this.hostnames.get(at === 0 ? lower : lower.slice(at)) ?? []) note(ref);
      }
    }
    if (probe.kind === 'ip') this.cidrs.lookup(probe.value, (refs) => refs.forEach(note), probe.prefix);
    // Scanned entries are tested only for lists that speak of this probe: a phone list's
    // patterns never run on a domain.
    for (const [list, scanned] of this.scannedFor(probe)) {
      const hit = substringHit(scanned, lower) ?? regexHit(scanned, probe.value);
      if (hit !== undefined) note({ list, entry: hit });
    }
  }
}

/** The substring entry `lower` contains, if any. */
function substringHit(scanned: Scanned, lower: string): string | undefined {
  if (scanned.substrings.length === 0) return undefined;
  scanned.anyOf ??= new RegExp(scanned.substrings.map(escapeRegExp).join('|'));
  return scanned.anyOf.exec(lower)?.[0];
}

/** The regex entry `value` matches, if any. */
function regexHit(scanned: Scanned, value: string): string | undefined {
  return scanned.regexes.find(({ pattern }) => {
    pattern.lastIndex = 0;
    return pattern.test(value);
  })?.entry;
}

function push(map: Map<string, Ref[]>, key: string, ref: Ref): void {
  const refs = map.get(key);
  if (refs) refs.push(ref);
  else map.set(key, [ref]);
}

/** `*.example.com`, `.example.com` and `Example.com.` all name example.com and its subdomains. */
function hostnameKey(entry: string): string {
  const bare = entry
    .toLowerCase()
    .replace(/^\*?\./, '')
    .replace(/\.$/, '');
  return domainToASCII(bare) || bare;
}

/**
 * Whether a list speaks of what a probe looked up. The host of a URL is
 * matched by the lists of names (and of URLs: MISP matches a URL's host
 * against them) or of addresses; the URL itself only by lists naming URLs,
 * and never by the hostname or CIDR lists, which the host already asked.
 */
function applies(list: LoadedList, probe: Probe): boolean {
  if (probe.on === 'host') {
    return probe.kind === 'ip' ? list.kinds.has('ip') : list.kinds.has('domain') || list.kinds.has('url');
  }
  if (probe.kind === 'url' && (list.type === 'hostname' || list.type === 'cidr')) return false;
  return list.kinds.has(probe.kind);
}
