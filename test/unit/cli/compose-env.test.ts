import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { parse } from 'yaml';
import {
  COMPOSE_CONFIG_FILE,
  COMPOSE_FILE,
  composeReferences,
  composeVariables,
  generateComposeEnv,
  interpolate,
  kafkaClusterId,
  parseDotenv,
  readComposeStack,
  stringsOf,
  type ComposeEnv,
} from '../../../services/cli/compose-env';
import { apiKeyHash, parseConfig } from '../../../services/platform/config/config';
import {
  generateSigningKeyPair,
  loadPrivateKey,
  publicKeyFromBase64,
  signValue,
  verifyValue,
} from '../../../services/contract/signing';
import { signerFor } from '../../../services/contract/keyring';
import { containerEnv, scopeOf } from '../../../testkit/compose';

/** services/cli/compose-env.ts: the .env `threatrelay keys compose-env` writes for docker-compose.yml. */
const root = join(__dirname, '../../..');

describe('compose interpolation', () => {
  it('reads every form of ${...} and skips $$', () => {
    expect(composeReferences('a ${A} ${B:-x} ${C-} ${D:?set D} ${E?e} $${F} $$G')).toEqual([
      { name: 'A' },
      { name: 'B', default: 'x' },
      { name: 'C', default: '' },
      { name: 'D', required: true },
      { name: 'E', required: true },
    ]);
  });

  it('substitutes as compose does', () => {
    const env = { A: 'a', EMPTY: '' };
    expect(interpolate('${A}/${MISSING}/${EMPTY:-d}/${EMPTY-d}/${MISSING-d}/$${A}', env)).toBe(
      'a//d//d/${A}',
    );
    expect(interpolate('${A:?needed}', env)).toBe('a');
    expect(() => interpolate('${MISSING:?set it in .env}', env)).toThrow(
      /MISSING is required: set it in .env/,
    );
  });
});

describe('parseDotenv', () => {
  it('keeps single-quoted values literal and strips comments', () => {
    const text = [
      '# a comment',
      '',
      "KEY='-----BEGIN X-----\\nabc+/=\\n-----END X-----'",
      'PLAIN=whsec_abc+/= # trailing comment',
      'EMPTY=',
      'DOUBLE="a\\"b"',
    ].join('\n');
    expect(parseDotenv(text)).toEqual({
      KEY: '-----BEGIN X-----\\nabc+/=\\n-----END X-----',
      PLAIN: 'whsec_abc+/=',
      EMPTY: '',
      DOUBLE: 'a"b',
    });
  });
});

describe('kafkaClusterId', () => {
  it('is what `kafka-storage random-uuid` prints: a v4 UUID in base64url, never starting with -', () => {
    for (let i = 0; i < 300; i++) {
      const id = kafkaClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
      const bytes = Buffer.from(id, 'base64url');
      expect(bytes).toHaveLength(16);
      expect(bytes[6]! >> 4).toBe(4);
      expect(bytes[8]! >> 6).toBe(2);
    }
  });
});

describe('generateComposeEnv', () => {
  const generated = generateComposeEnv({ root });
  const { values, variables } = generated;
  const ofKind = (kind: string) => variables.filter((v) => v.kind === kind);

  it('sets every variable docker-compose.yml interpolates, and nothing it does not know', () => {
    const stack = readComposeStack(root);
    const used = new Set(stringsOf(stack.compose).flatMap((s) => composeReferences(s).map((r) => r.name)));
    const apiKeys = new Set(
      [...ofKind('api-key'), ...ofKind('operator-password'), ...ofKind('taxii-reader-password')].map(
        (v) => v.name,
      ),
    );
    const profiles = new Set(ofKind('compose-profiles').map((v) => v.name));
    expect(new Set(Object.keys(values))).toEqual(new Set([...used, ...apiKeys, ...profiles]));
    for (const name of used) expect([name, values[name]]).toEqual([name, expect.stringMatching(/./)]);
    // Nothing compose interpolates is left empty, and no `:?` variable is missing.
    for (const s of stringsOf(stack.compose)) expect(() => interpolate(s, values)).not.toThrow();
  });

  it('writes a .env that reads back to the same values', () => {
    expect(parseDotenv(generated.text)).toEqual(values);
    // Each variable has the comment saying what it is right above it.
    const lines = generated.text.split('\n');
    for (const v of variables) {
      const i = lines.findIndex((l) => l.startsWith(`${v.name}=`));
      expect([v.name, lines[i - 1]]).toEqual([v.name, `# ${v.description}`]);
    }
  });

  it('pairs each signing key with its public key', () => {
    const signing = ofKind('signing-key');
    expect(signing.map((v) => v.owner).sort()).toEqual(['facebook', 'google', 'microsoft', 'twitter']);
    for (const v of signing) {
      const pub = ofKind('public-key').find((p) => p.owner === v.owner)!;
      // On one line in .env; the producer turns `\n` back into line breaks.
      expect(values[v.name]).not.toContain('\n');
      const key = loadPrivateKey(values[v.name]!.replace(/\\n/g, '\n'));
      const data = Buffer.from(`record of ${v.owner}`);
      expect(verifyValue(data, signValue(data, key), publicKeyFromBase64(values[pub.name]!))).toBe(true);
    }
  });

  it('hashes each API key as the producer checks it, and keeps the key for the operator', () => {
    const hashes = ofKind('api-key-hash');
    expect(hashes).toHaveLength(4);
    for (const h of hashes) {
      const key = values[h.name.replace(/_SHA256$/, '')]!;
      expect(key).toMatch(new RegExp(`^trk_${h.owner}_[A-Za-z0-9_-]{32}$`));
      expect(values[h.name]).toBe(apiKeyHash(key));
    }
  });

  it("hashes each TAXII reader's password as the TAXII server checks it, and keeps it for the operator", () => {
    const hashes = ofKind('taxii-reader-hash');
    expect(hashes.map((h) => h.owner)).toEqual(['fbi']);
    for (const h of hashes) {
      const password = ofKind('taxii-reader-password').find((p) => `${p.name}_SHA256` === h.name)!;
      expect(values[password.name]).toMatch(new RegExp(`^trt_${h.owner}_[A-Za-z0-9_-]{32}$`));
      expect(values[h.name]).toBe(apiKeyHash(values[password.name]!));
    }
  });

  it('makes valid webhook secrets, strong passwords and a cluster id', () => {
    for (const v of ofKind('webhook-secret')) {
      expect(() => new Webhook(values[v.name]!)).not.toThrow();
      expect(Buffer.from(values[v.name]!.replace(/^whsec_/, ''), 'base64')).toHaveLength(24);
    }
    for (const v of [...ofKind('kafka-user-password'), ...ofKind('password')]) {
      expect(values[v.name]!.length).toBeGreaterThanOrEqual(16);
    }
    // What kafka.sh accepts for the admin, and nothing a redis:// URL would need escaped.
    for (const v of ofKind('kafka-admin-password'))
      expect(values[v.name]).toMatch(/^[A-Za-z0-9._~+/=-]{12,}$/);
    for (const v of ofKind('password')) expect(values[v.name]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(values.KAFKA_CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('is fresh every time', () => {
    const again = generateComposeEnv({ root }).values;
    const secretKinds = new Set(['setting', 'compose-profiles', 'kafka-cluster-id']);
    for (const v of variables) {
      if (!secretKinds.has(v.kind)) expect([v.name, again[v.name]]).not.toEqual([v.name, values[v.name]]);
    }
  });

  it('turns on the ha profile with replication factor 3', () => {
    expect(values.COMPOSE_PROFILES).toBe('');
    expect(values.KAFKA_REPLICATION_FACTOR).toBe('1');
    const ha = generateComposeEnv({ root, profiles: ['ha'] }).values;
    expect(ha.COMPOSE_PROFILES).toBe('ha');
    expect(ha.KAFKA_REPLICATION_FACTOR).toBe('3');
  });

  describe('refuses what it cannot explain', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'compose-env-'));
      mkdirSync(join(dir, 'config'));
      cpSync(join(root, COMPOSE_FILE), join(dir, COMPOSE_FILE));
      cpSync(join(root, COMPOSE_CONFIG_FILE), join(dir, COMPOSE_CONFIG_FILE));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const edit = (file: string, from: string | RegExp, to: string): void => {
      const text = readFileSync(join(dir, file), 'utf8');
      const edited = text.replace(from, to);
      expect(edited).not.toBe(text);
      writeFileSync(join(dir, file), edited);
    };

    it('a variable nothing says how to make', () => {
      edit(
        COMPOSE_FILE,
        /^( +)THREATRELAY_CONFIG: (.*)$/m,
        '$1THREATRELAY_CONFIG: $2\n$1MYSTERY: ${MYSTERY}',
      );
      expect(() => generateComposeEnv({ root: dir })).toThrow(/MYSTERY/);
    });

    it('a config secret no container is given', () => {
      const extra = [
        '  - id: dhs-extra',
        '    org: dhs',
        '    webhook:',
        '      url: http://receiver:9000/hooks/dhs-extra',
        "      secrets: ['${DHS_EXTRA_WEBHOOK_SECRET}']",
        '',
      ].join('\n');
      writeFileSync(
        join(dir, COMPOSE_CONFIG_FILE),
        `${readFileSync(join(dir, COMPOSE_CONFIG_FILE), 'utf8')}${extra}`,
      );
      expect(() => composeVariables(readComposeStack(dir))).toThrow(/DHS_EXTRA_WEBHOOK_SECRET/);
    });
  });
});

/**
 * compose-env with an org that lists its keys (`orgs[].keys`, as after
 * `threatrelay keys rotate`) in config/compose.yaml instead of one publicKey.
 */
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
