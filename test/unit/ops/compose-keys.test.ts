import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  COMPOSE_CONFIG_FILE,
  COMPOSE_FILE,
  generateComposeEnv,
  readComposeStack,
  type ComposeEnv,
} from '../../../services/cli/compose-env';
import { signerFor } from '../../../services/contract/keyring';
import { generateSigningKeyPair, loadPrivateKey } from '../../../services/contract/signing';
import { parseConfig } from '../../../services/platform/config/config';
import { containerEnv, scopeOf } from '../../../testkit/compose';

/**
 * compose-env with an org that lists its keys (`orgs[].keys`, as after
 * `threatrelay keys rotate`) in config/compose.yaml instead of one publicKey.
 */
const root = join(__dirname, '../../..');

/** facebook's keys while rotating: the old one closes on the 15th, the new one opened on the 8th. */
function rotatingKeys(newKey = '${FACEBOOK_PUBLIC_KEY}', oldRevokedAt?: string): string {
  return [
    'keys:',
    '      - id: facebook-2025',
    '        publicKey: ${FACEBOOK_PUBLIC_KEY_2025}',
    "        notAfter: '2026-12-15T00:00:00Z'",
    ...(oldRevokedAt ? [`        revokedAt: '${oldRevokedAt}'`] : []),
    '      - id: facebook-2026',
    `        publicKey: ${newKey}`,
    "        notBefore: '2026-12-08T00:00:00Z'",
  ].join('\n');
}

describe('compose-env with an org that lists keys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'compose-keys-'));
    mkdirSync(join(dir, 'config'));
    cpSync(join(root, COMPOSE_FILE), join(dir, COMPOSE_FILE));
    cpSync(join(root, COMPOSE_CONFIG_FILE), join(dir, COMPOSE_CONFIG_FILE));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const edit = (file: string, from: string, to: string): void => {
    const text = readFileSync(join(dir, file), 'utf8');
    expect(text).toContain(from);
    writeFileSync(join(dir, file), text.replace(from, to));
  };
  /** Every subscriber is given the old key's variable too, as an operator rotating would. */
  const passOldKey = (): void =>
    edit(
      COMPOSE_FILE,
      '  FACEBOOK_PUBLIC_KEY: ${FACEBOOK_PUBLIC_KEY}\n',
      '  FACEBOOK_PUBLIC_KEY: ${FACEBOOK_PUBLIC_KEY}\n  FACEBOOK_PUBLIC_KEY_2025: ${FACEBOOK_PUBLIC_KEY_2025}\n',
    );
  const listKeys = (keys: string): void =>
    edit(COMPOSE_CONFIG_FILE, 'publicKey: ${FACEBOOK_PUBLIC_KEY}', keys);

  /** The key id facebook's producer container signs with, given the generated .env. */
  function producerKeyId(env: ComposeEnv, now: Date): string {
    const stack = readComposeStack(dir);
    const producer = stack.compose.services['producer-facebook']!;
    const processEnv = containerEnv(producer, env.values);
    const config = parseConfig(parse(stack.configText), processEnv, scopeOf(producer));
    const facebook = config.orgs.find((o) => o.id === 'facebook')!;
    const pem = processEnv.THREATRELAY_SIGNING_KEY!.replace(/\\n/g, '\n');
    return signerFor(facebook, loadPrivateKey(pem), now.getTime()).key.id;
  }

  it("pairs the producer's signing key with the newest key valid now", () => {
    passOldKey();
    listKeys(rotatingKeys());
    const now = new Date('2026-12-10T00:00:00Z');
    const env = generateComposeEnv({ root: dir, now });
    expect(producerKeyId(env, now)).toBe('facebook-2026');
    const old = env.variables.find((v) => v.name === 'FACEBOOK_PUBLIC_KEY_2025')!;
    expect([old.kind, old.owner, old.signs]).toEqual(['public-key', 'facebook', false]);
    expect(Buffer.from(env.values.FACEBOOK_PUBLIC_KEY_2025!, 'base64')).toHaveLength(32);
  });

  it('pairs it with the old key before the new one is valid', () => {
    passOldKey();
    listKeys(rotatingKeys());
    const now = new Date('2026-12-01T00:00:00Z');
    expect(producerKeyId(generateComposeEnv({ root: dir, now }), now)).toBe('facebook-2025');
  });

  it('refuses when no listed key is valid now', () => {
    passOldKey();
    listKeys(rotatingKeys('${FACEBOOK_PUBLIC_KEY}', '2026-11-01T00:00:00Z'));
    expect(() => generateComposeEnv({ root: dir, now: new Date('2026-12-01T00:00:00Z') })).toThrow(
      /FACEBOOK_SIGNING_KEY signs for facebook: none of its keys in config\/compose.yaml is valid at 2026-12-01T00:00:00.000Z/,
    );
  });

  it('refuses when the key valid now is written out rather than a variable', () => {
    // The old key takes FACEBOOK_PUBLIC_KEY's place in docker-compose.yml; the new one is literal.
    edit(
      COMPOSE_FILE,
      '  FACEBOOK_PUBLIC_KEY: ${FACEBOOK_PUBLIC_KEY}\n',
      '  FACEBOOK_PUBLIC_KEY_2025: ${FACEBOOK_PUBLIC_KEY_2025}\n',
    );
    listKeys(rotatingKeys(generateSigningKeyPair().publicKey));
    expect(() => generateComposeEnv({ root: dir, now: new Date('2026-12-10T00:00:00Z') })).toThrow(
      /FACEBOOK_SIGNING_KEY signs for facebook: key facebook-2026, the one it signs with now, is written out/,
    );
  });
});
