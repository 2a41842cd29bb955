import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importWarninglists } from '../../../../services/cli/warninglists/import';
import { readSnapshot } from '../../../../services/contract/warninglists';

/** A checkout of misp-warninglists made of a few lists, and an empty snapshot folder. */
function fixture(): { checkout: string; snapshot: string; write(id: string, body: object): void } {
  const root = mkdtempSync(join(tmpdir(), 'warninglists-'));
  const checkout = join(root, 'misp-warninglists');
  const write = (id: string, body: object): void => {
    mkdirSync(join(checkout, 'lists', id), { recursive: true });
    writeFileSync(join(checkout, 'lists', id, 'list.json'), JSON.stringify(body, null, 2));
  };
  return { checkout, snapshot: join(root, 'snapshot'), write };
}

const rfc1918 = {
  name: 'List of RFC 1918 CIDR blocks',
  version: 5,
  description: 'private',
  type: 'cidr',
  matching_attributes: ['ip-src', 'ip-dst'],
  list: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
};
const shorteners = {
  ...rfc1918,
  name: 'shorteners',
  version: 27,
  type: 'hostname',
  matching_attributes: ['domain'],
  list: ['bit.ly'],
};
const COMMIT = 'a'.repeat(40);

describe('threatrelay warninglists import', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('keeps only the chosen lists, upstream bytes unchanged, and records their versions', () => {
    const f = fixture();
    dirs.push(f.checkout, f.snapshot);
    f.write('rfc1918', rfc1918);
    f.write('url-shortener', shorteners);
    f.write('tranco', { ...shorteners, name: 'tranco' });
    importWarninglists(f.checkout, f.snapshot, { lists: ['rfc1918', 'url-shortener'], commit: COMMIT });
    expect(readdirSync(f.snapshot).sort()).toEqual(['manifest.json', 'rfc1918.json', 'url-shortener.json']);
    expect(readFileSync(join(f.snapshot, 'rfc1918.json'), 'utf8')).toBe(
      readFileSync(join(f.checkout, 'lists/rfc1918/list.json'), 'utf8'),
    );
    const { manifest } = readSnapshot(f.snapshot);
    expect(manifest.commit).toBe(COMMIT);
    expect(manifest.lists.map((l) => [l.id, l.version])).toEqual([
      ['rfc1918', 5],
      ['url-shortener', 27],
    ]);
  });

  it('refreshes the lists the snapshot already keeps when none are named', () => {
    const f = fixture();
    dirs.push(f.checkout, f.snapshot);
    f.write('rfc1918', rfc1918);
    importWarninglists(f.checkout, f.snapshot, { lists: ['rfc1918'], commit: COMMIT });
    f.write('rfc1918', { ...rfc1918, version: 6 });
    importWarninglists(f.checkout, f.snapshot, { commit: COMMIT });
    expect(readSnapshot(f.snapshot).manifest.lists).toEqual([
      expect.objectContaining({ id: 'rfc1918', version: 6 }),
    ]);
  });

  it('changes nothing when a chosen list has an entry that cannot be used', () => {
    const f = fixture();
    dirs.push(f.checkout, f.snapshot);
    f.write('rfc1918', rfc1918);
    importWarninglists(f.checkout, f.snapshot, { lists: ['rfc1918'], commit: COMMIT });
    const before = readFileSync(join(f.snapshot, 'manifest.json'), 'utf8');
    f.write('rfc1918', { ...rfc1918, version: 6, list: ['10.0.0.0/33'] });
    expect(() => importWarninglists(f.checkout, f.snapshot, { commit: COMMIT })).toThrow(/rfc1918\.list\.0/);
    expect(readFileSync(join(f.snapshot, 'manifest.json'), 'utf8')).toBe(before);
    expect(readSnapshot(f.snapshot).lists[0]!.file.version).toBe(5);
  });

  it('names a chosen list the checkout does not have', () => {
    const f = fixture();
    dirs.push(f.checkout, f.snapshot);
    f.write('rfc1918', rfc1918);
    expect(() =>
      importWarninglists(f.checkout, f.snapshot, { lists: ['rfc1918', 'nope'], commit: COMMIT }),
    ).toThrow(/nope: no lists\/nope\/list\.json/);
  });

  it('refuses a file that is not a MISP warninglist, naming the field', () => {
    const f = fixture();
    dirs.push(f.checkout, f.snapshot);
    f.write('odd', { ...rfc1918, type: 'glob' });
    expect(() => importWarninglists(f.checkout, f.snapshot, { lists: ['odd'], commit: COMMIT })).toThrow(
      /type/,
    );
  });
});
