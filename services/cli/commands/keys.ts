import { hashOperatorPassword, newOperatorPassword } from '../../console/auth';
import { generateSigningKeyPair } from '../../contract/signing';
import { apiKeyHash, newApiKey, newTaxiiSecret } from '../../platform/config/config';
import { generateComposeEnv } from '../compose-env';
import { command, fail, type CommandContext } from '../context';
import { DEFAULT_OVERLAP_DAYS, revoke, rotate } from './keys-rotate';

function apiKey({ values, needOrg }: CommandContext): void {
  const org = needOrg();
  const key = newApiKey(org);
  const name = values.name ?? `${org}-secops`;
  console.log(`API key (give it to the team; it is not stored anywhere):\n  ${key}\n`);
  console.log(
    `config entry (apiKeys):\n  - name: ${name}\n    org: ${org}\n    sha256: ${apiKeyHash(key)}\n    scopes: [publish, revoke]`,
  );
}

function taxiiReader({ values, needOrg }: CommandContext): void {
  const org = needOrg();
  const secret = newTaxiiSecret(org);
  const name = values.name ?? `${org}-taxii`;
  console.log(
    `TAXII reader (give it to the org's TIP; it is not stored anywhere):\n  username ${name}\n  password ${secret}   (or: Authorization: Bearer ${secret})\n`,
  );
  console.log(
    `config entry (taxii.readers):\n  - name: ${name}\n    org: ${org}\n    sha256: ${apiKeyHash(secret)}`,
  );
}

function operator({ values }: CommandContext): void {
  const password = newOperatorPassword();
  const username = values.name ?? 'operator';
  console.log(`console password (give it to the operator; it is not stored anywhere):\n  ${password}\n`);
  console.log(
    `config entry (console.operators):\n  - username: ${username}\n    passwordHash: '${hashOperatorPassword(password)}'`,
  );
}

function signingKey(): void {
  const pair = generateSigningKeyPair();
  console.log(`private key (keep it with the org's producer only):\n${pair.privateKeyPem}`);
  console.log(
    `public key (orgs[].publicKey, or an entry of orgs[].keys, in the config):\n  ${pair.publicKey}`,
  );
}

const KINDS: Record<string, (ctx: CommandContext) => void> = {
  api: apiKey,
  // `create` is what people type first; `api` is what the docs said before.
  create: apiKey,
  signing: signingKey,
  rotate,
  revoke,
  taxii: taxiiReader,
  operator,
  // Secrets: meant for `(umask 077; threatrelay keys compose-env > .env)`.
  'compose-env': ({ values }) =>
    void process.stdout.write(generateComposeEnv({ profiles: values.profile ?? [] }).text),
};

export const keys = command({
  name: 'keys',
  usage: `keys api|create --org ID [--name NAME]   print a new API key and the config entry with its hash
keys taxii --org ID [--name NAME]   print a new TAXII reader secret and the config entry with its hash
keys signing              print a new Ed25519 key pair (private PEM, public base64)
keys rotate --org ID --config FILE [--out FILE] [--key-id ID] [--overlap-days N]
                          write a new signing key (mode 0600) and add it to the org's keys; the previous
                          key signs for N more days (default ${DEFAULT_OVERLAP_DAYS}); see docs/key-rotation.md
keys revoke --org ID --config FILE --key-id ID [--at ISO-TIME]   refuse records the key signs from then on (default now)
keys operator [--name USER]   print a new console password and the config entry with its scrypt hash
keys compose-env [--profile ha]   print a complete .env for docker-compose.yml, every key and secret fresh`,
  async run(ctx) {
    const kind = Object.hasOwn(KINDS, ctx.args[0] ?? '') ? KINDS[ctx.args[0]!] : undefined;
    if (!kind)
      fail(
        'usage: threatrelay keys api|create|taxii --org ID | keys signing | keys rotate|revoke --org ID --config FILE | keys operator [--name USER] | keys compose-env [--profile ha]',
      );
    kind(ctx);
  },
});
