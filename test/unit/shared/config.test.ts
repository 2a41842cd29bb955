import { parseConfig } from '../../../services/shared/config';
import { isThreatRelayError } from '../../../services/shared/errors';

const KEY = Buffer.alloc(32, 7).toString('base64');
const HASH = 'a'.repeat(64);
const SECRET = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;

function base(): Record<string, unknown> {
  return {
    orgs: [
      { id: 'facebook', name: 'Meta', kind: 'company', publicKey: KEY },
      { id: 'dhs', name: 'DHS', kind: 'government' },
    ],
    apiKeys: [{ name: 'fb-secops', org: 'facebook', sha256: HASH }],
    subscriptions: [
      {
        id: 'dhs-all',
        org: 'dhs',
        webhook: { url: 'https://siem.dhs.example/hooks', secrets: ['${DHS_SECRET}'] },
      },
    ],
  };
}

function problemsOf(raw: unknown, env: NodeJS.ProcessEnv = { DHS_SECRET: SECRET }): string[] {
  try {
    parseConfig(raw, env);
  } catch (err) {
    if (isThreatRelayError(err, 'TR_CONFIG')) return err.details.map((d) => `${d.path}: ${d.message}`);
    throw err;
  }
  return [];
}

describe('config', () => {
  it('accepts a valid config, fills defaults and substitutes ${ENV} secrets', () => {
    const config = parseConfig(base(), { DHS_SECRET: SECRET, KAFKA_BROKERS: 'k1:9092,k2:9092' });
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.kafka.topicPrefix).toBe('threatrelay');
    expect(config.subscriptions[0]!.webhook.secrets).toEqual([SECRET]);
    expect(config.subscriptions[0]!.batchSize).toBe(100);
    expect(config.subscriptions[0]!.webhook.allowPrivateNetworks).toBe(false);
    expect(config.apiKeys[0]!.scopes).toEqual(['publish', 'revoke']);
  });

  it('lists every mistake at once, each with its path', () => {
    const raw = base();
    (raw.orgs as unknown[]).push({ id: 'dhs', name: 'again', kind: 'government' });
    (raw.subscriptions as Record<string, unknown>[]).push({
      id: 'dhs-all',
      org: 'nsa',
      webhook: { url: 'not a url', secrets: [SECRET] },
    });
    const problems = problemsOf(raw, {});
    expect(problems).toEqual(
      expect.arrayContaining([
        'subscriptions.0.webhook.secrets.0: environment variable DHS_SECRET is not set',
        expect.stringMatching(/^subscriptions\.1\.webhook\.url: /),
      ]),
    );
    // Cross-file checks need a schema-valid file; fix the URL and they show up.
    (raw.subscriptions as { webhook: { url: string } }[])[1]!.webhook.url = 'https://x.example/h';
    expect(problemsOf(raw)).toEqual(
      expect.arrayContaining([
        'orgs: duplicate org id "dhs"',
        'subscriptions: duplicate subscription id "dhs-all"',
        'subscriptions.1.org: unknown org "nsa"',
      ]),
    );
  });

  it('rejects a public key that is not 32 bytes and an API key hash that is not hex SHA-256', () => {
    const raw = base();
    (raw.orgs as Record<string, unknown>[])[0]!.publicKey = 'c2hvcnQ=';
    (raw.apiKeys as Record<string, unknown>[])[0]!.sha256 = 'XYZ';
    const problems = problemsOf(raw);
    expect(problems).toEqual(
      expect.arrayContaining([
        'orgs.0.publicKey: must be a base64 raw 32-byte Ed25519 public key',
        'apiKeys.0.sha256: must be 64 lowercase hex chars (SHA-256 of the key)',
      ]),
    );
  });

  it('rejects a webhook secret the signer could not use, and a timeout over the session timeout', () => {
    const raw = base();
    const sub = (raw.subscriptions as { webhook: Record<string, unknown> }[])[0]!;
    sub.webhook.secrets = ['my-shared-secret'];
    sub.webhook.timeoutMs = 60_000;
    const problems = problemsOf(raw);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^subscriptions\.0\.webhook\.secrets\.0: must be a Standard Webhooks secret/),
        expect.stringMatching(/^subscriptions\.0\.webhook\.timeoutMs: /),
      ]),
    );
  });

  it('refuses unknown fields instead of ignoring a typo', () => {
    const raw = { ...base(), subscriptons: [] };
    expect(problemsOf(raw).join('\n')).toMatch(/subscriptons/);
  });
});
