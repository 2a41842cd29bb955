import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { revokeInConfig, rotate, rotateInConfig } from '../../../../services/cli/commands/keys-rotate';
import { commandContext, parseCommandLine } from '../../../../services/cli/context';
import { derivedKeyId } from '../../../../services/contract/keyring';
import { parseConfig } from '../../../../services/platform/config/config';
import { parse } from 'yaml';

const OLD = Buffer.alloc(32, 7).toString('base64');
const NEW = Buffer.alloc(32, 8).toString('base64');
const NOW = Date.parse('2026-12-08T02:00:00Z');
const DAY = 86_400_000;

const CONFIG = `# the network
orgs:
  - id: facebook
    name: Meta
    kind: company
    publicKey: ${OLD} # generated 2025
  - id: google
    name: Google
    kind: company
    publicKey: \${GOOGLE_PUBLIC_KEY}
`;

const load = (text: string) => parseConfig(parse(text), { GOOGLE_PUBLIC_KEY: OLD });

describe('keys rotate: the config entry', () => {
  it('turns the single key into a list, closes it after the overlap and adds the new key from now', () => {
    const rotation = rotateInConfig(CONFIG, 'facebook', NEW, { now: NOW, overlapMs: 7 * DAY });
    expect(rotation.keyId).toBe(derivedKeyId(NEW));
    expect(load(rotation.text).orgs[0]!.keys).toEqual([
      { id: derivedKeyId(OLD), publicKey: OLD, notAfter: '2026-12-15T02:00:00.000Z' },
      { id: derivedKeyId(NEW), publicKey: NEW, notBefore: '2026-12-08T02:00:00.000Z' },
    ]);
    expect(rotation.text).toContain('# the network');
  });

  it('keeps a ${VARIABLE} key as it is, leaving its id for readers to derive', () => {
    const text = rotateInConfig(CONFIG, 'google', NEW, { now: NOW, overlapMs: DAY, keyId: 'g-2026' }).text;
    expect(text).toContain('publicKey: ${GOOGLE_PUBLIC_KEY}');
    expect(load(text).orgs[1]!.keys.map((k) => [k.id, k.notBefore, k.notAfter])).toEqual([
      [derivedKeyId(OLD), undefined, '2026-12-09T02:00:00.000Z'],
      ['g-2026', '2026-12-08T02:00:00.000Z', undefined],
    ]);
  });

  it('leaves a revoked key and one that ends sooner as they are', () => {
    const first = rotateInConfig(CONFIG, 'facebook', NEW, { now: NOW, overlapMs: DAY }).text;
    const revoked = revokeInConfig(first, 'facebook', derivedKeyId(NEW), NOW + DAY / 2);
    const third = Buffer.alloc(32, 9).toString('base64');
    const keys = load(
      rotateInConfig(revoked, 'facebook', third, { now: NOW + DAY / 2, overlapMs: 7 * DAY }).text,
    ).orgs[0]!.keys;
    expect(keys.map((k) => [k.notAfter, k.revokedAt])).toEqual([
      ['2026-12-09T02:00:00.000Z', undefined],
      [undefined, '2026-12-08T14:00:00.000Z'],
      [undefined, undefined],
    ]);
  });

  it('refuses an org the file does not have and a key id the org already uses', () => {
    expect(() => rotateInConfig(CONFIG, 'twitter', NEW, { now: NOW, overlapMs: DAY })).toThrow(
      'the config has no org "twitter"',
    );
    expect(() =>
      rotateInConfig(CONFIG, 'facebook', NEW, { now: NOW, overlapMs: DAY, keyId: derivedKeyId(OLD) }),
    ).toThrow(`org "facebook" already has a key "${derivedKeyId(OLD)}"`);
  });
});

describe('keys revoke: the config entry', () => {
  it('sets revokedAt on the key it names', () => {
    const text = revokeInConfig(CONFIG, 'facebook', derivedKeyId(OLD), NOW);
    expect(load(text).orgs[0]!.keys).toEqual([
      { id: derivedKeyId(OLD), publicKey: OLD, revokedAt: '2026-12-08T02:00:00.000Z' },
    ]);
  });

  it('refuses a key id the org does not have, listing the ones it has', () => {
    expect(() => revokeInConfig(CONFIG, 'facebook', 'nope', NOW)).toThrow(
      `org "facebook" has no key "nope" (ids: ${derivedKeyId(OLD)})`,
    );
  });
});

describe('threatrelay keys rotate', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'keys-rotate-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...argv: string[]): void => {
    const { values, args } = parseCommandLine(['keys', 'rotate', ...argv], {});
    rotate(commandContext(values, args));
  };

  it('writes the private key readable by its owner only, and its public half into the config', () => {
    const configPath = join(dir, 'network.yaml');
    const keyPath = join(dir, 'facebook.pem');
    writeFileSync(configPath, CONFIG);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      run('--org', 'facebook', '--config', configPath, '--out', keyPath, '--key-id', 'fb-2026');
    } finally {
      log.mockRestore();
    }
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const raw = createPublicKey(createPrivateKey(readFileSync(keyPath, 'utf8'))).export({ format: 'jwk' }).x!;
    const added = load(readFileSync(configPath, 'utf8')).orgs[0]!.keys.find((k) => k.id === 'fb-2026')!;
    expect(added.publicKey).toBe(Buffer.from(raw, 'base64url').toString('base64'));
  });

  it('never writes over an existing key file, and leaves the config untouched then', () => {
    const configPath = join(dir, 'network.yaml');
    const keyPath = join(dir, 'facebook.pem');
    writeFileSync(configPath, CONFIG);
    writeFileSync(keyPath, 'the current key');
    expect(() => run('--org', 'facebook', '--config', configPath, '--out', keyPath)).toThrow(
      /cannot create .*facebook\.pem/,
    );
    expect(readFileSync(keyPath, 'utf8')).toBe('the current key');
    expect(readFileSync(configPath, 'utf8')).toBe(CONFIG);
  });
});
